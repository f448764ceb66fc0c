/**
 * `GET /events`: the order events as Server-Sent Events. Each event's `id:` is its `seq`; a client
 * that reconnects with `Last-Event-ID` (EventSource does it by itself) first gets the events it
 * missed, replayed from the table, then the live ones, with none missing and none twice. Heartbeat
 * comments keep proxies from closing a quiet stream. Each stream goes at its client's pace with at
 * most `maxQueued` events queued (the rest wait in the table), and a client that leaves it waiting
 * and reads nothing for `stallMs` is cut off.
 */
import { Elysia, t } from "elysia";
import { type AppError, invalidQuery, tooManyWatchers, validationFailed } from "../kit/errors.ts";
import { checkQuery } from "../kit/query-string.ts";
import { contract } from "../kit/route-contract.ts";
import type { EventFeed, EventFilter } from "./feed.ts";
import type { EventStore } from "./store.ts";
import { EventStream } from "./stream.ts";

/** What the events routes need. */
export type EventDeps = {
  feed: EventFeed;
  store: EventStore;
  /** The oldest event kept (retention deletes the oldest first), for a resume from before it. */
  oldestEvent: () => Promise<{ seq: number } | undefined>;
  heartbeatMs: number;
  /** Events a stream keeps queued for its client; past it, the stream waits for the client to read. */
  maxQueued: number;
  /** How long a client whose stream waits for it may read nothing before the stream is ended. */
  stallMs: number;
};

const EventsQuery = t.Object(
  {
    order_id: t.Optional(t.String({ description: "Only this order's events" })),
    user_id: t.Optional(t.String({ description: "Only this user's orders' events" })),
    last_event_id: t.Optional(
      t.String({
        description: "Resume after this seq, for clients that cannot send the Last-Event-ID header",
      }),
    ),
  },
  { additionalProperties: false, error: "allowed query parameters: order_id, user_id, last_event_id" },
);

/** 422: Last-Event-ID (or last_event_id) is not the seq of an event. */
const badLastEventId = (): AppError =>
  validationFailed([{ field: "last_event_id", message: "must be the seq of an event" }], "request");

/** The seq to resume after, from Last-Event-ID (or the query); undefined: live only. */
function resumeAfter(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  const seq = Number(value);
  if (!/^[0-9]{1,15}$/.test(value) || !Number.isSafeInteger(seq)) throw badLastEventId();
  return seq;
}

/** The `/events` route. */
export function eventRoutes(deps: EventDeps) {
  return new Elysia({ name: "events", detail: { tags: ["Events"] } }).get(
    "/events",
    ({ query, request, server }) => {
      const after = resumeAfter(request.headers.get("last-event-id") ?? query.last_event_id);
      const filter: EventFilter = {};
      if (query.order_id !== undefined) filter.orderId = query.order_id;
      if (query.user_id !== undefined) filter.userId = query.user_id;
      // Refused before the answer starts: once streaming, an error can no longer be a 503.
      deps.feed.checkRoom();
      // A stream is quiet between events: Bun's idle timeout must not end it (heartbeats keep
      // proxies' timeouts at bay).
      server?.timeout(request, 0);
      return new Response(new EventStream(deps, filter, after, request.signal).readable, {
        headers: {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
          // nginx and similar proxies would otherwise buffer the stream.
          "x-accel-buffering": "no",
        },
      });
    },
    {
      transform: ({ request }) => checkQuery(request.url),
      query: EventsQuery,
      ...contract({
        // MAX_WATCHERS at its default.
        errors: [invalidQuery("user_id=%FF"), badLastEventId(), tooManyWatchers(10_000)],
        response: {
          200: t.String({
            description:
              "text/event-stream: each message has `id: <seq>` and `data: <event as JSON>` (the schema " +
              "OrderEvent, as in GET /orders/{order_id}/events); comments are heartbeats; a resume from " +
              "before the oldest kept event first gets one `event: pruned` message (no id)",
          }),
        },
        detail: {
          operationId: "streamEvents",
          summary: "Live order events (Server-Sent Events)",
          description:
            "Every order event as it is committed, optionally only one order's or one user's. Reconnect " +
            "with Last-Event-ID (EventSource does) to get exactly the events missed, then live ones, at " +
            "the pace the client reads. A Last-Event-ID older than the oldest event kept " +
            "(EVENT_RETENTION_DAYS) is still answered 200: the stream starts with an `event: pruned` " +
            'message, data {"oldest_kept_seq","last_event_id"}, then continues from the oldest kept. ' +
            "A client that leaves its stream waiting (SSE_MAX_QUEUED_EVENTS " +
            "events unread, or a replay pending) and reads nothing for SSE_STALL_MS is disconnected.",
        },
      }),
    },
  );
}
