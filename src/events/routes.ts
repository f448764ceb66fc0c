/**
 * `GET /events`: the order events as Server-Sent Events. Each event's `id:` is its `seq`; a client
 * that reconnects with `Last-Event-ID` (EventSource does it by itself) first gets the events it
 * missed, replayed from the table, then the live ones, with none missing and none twice. Heartbeat
 * comments keep proxies from closing a quiet stream; a client that stops reading is cut off once
 * `maxQueued` events wait for it, so a slow consumer cannot grow the service's memory.
 */
import { Elysia, t } from "elysia";
import { ErrorBody } from "../error-envelope.ts";
import { validationFailed } from "../errors.ts";
import type { OrderEvent } from "../order.ts";
import { checkQueryString } from "../query-string.ts";
import type { EventFeed, EventFilter, Watch } from "./feed.ts";
import { toEventView } from "./model.ts";
import type { EventStore } from "./store.ts";

/** What the events routes need. */
export type EventDeps = {
  feed: EventFeed;
  store: EventStore;
  heartbeatMs: number;
  maxQueued: number;
  /** How long a client whose stream is full may read nothing before the stream is ended. */
  stallMs: number;
};

const PAGE = 500;
const encoder = new TextEncoder();

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

/** The seq to resume after, from Last-Event-ID (or the query); undefined: live only. */
function resumeAfter(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  const seq = Number(value);
  if (!/^[0-9]{1,15}$/.test(value) || !Number.isSafeInteger(seq)) {
    throw validationFailed([{ field: "last_event_id", message: "must be the seq of an event" }], "request");
  }
  return seq;
}

/** The SSE frame of one event. */
const frame = (event: OrderEvent) => `id: ${event.seq}\ndata: ${JSON.stringify(toEventView(event))}\n\n`;

/**
 * The stream: watch the feed first (buffering), replay (after, watch.position] from the table,
 * then send what the feed buffered meanwhile and go live: every event after `after` exactly once.
 */
function eventStream(deps: EventDeps, filter: EventFilter, after: number | undefined, signal: AbortSignal) {
  let watch: Watch | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let done = false;
  let live = false;
  const held: OrderEvent[] = [];
  const finish = () => {
    done = true;
    watch?.stop();
    clearInterval(heartbeat);
  };
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (text: string) => {
        if (done) return;
        // Chunks the client has not taken yet (highWaterMark 1): over the bound, it is cut off.
        if ((controller.desiredSize ?? 0) < -deps.maxQueued) {
          finish();
          controller.error(); // ends the response; with no reason, nothing is logged as a server error
          return;
        }
        controller.enqueue(encoder.encode(text));
      };
      signal.addEventListener("abort", finish, { once: true });
      send(`retry: 1000\n: connected\n\n`);
      try {
        watch = await deps.feed.watch({
          filter,
          deliver: (event) => {
            if (live) send(frame(event));
            else if (held.push(event) > deps.maxQueued) {
              finish();
              controller.error(); // ends the response; with no reason, nothing is logged as a server error
            }
          },
          // The service is shutting down: end the stream; the client reconnects (elsewhere) with
          // Last-Event-ID and misses nothing.
          end: () => {
            if (done) return;
            finish();
            controller.close();
          },
        });
        // The client left (or the stream ended) while the feed was starting: let go at once.
        if (done) {
          watch.stop();
          return;
        }
        let cursor = after;
        while (cursor !== undefined && !done) {
          const page = await deps.store.readEvents({
            after: cursor,
            upTo: watch.position,
            limit: PAGE,
            ...filter,
          });
          for (const event of page) send(frame(event));
          cursor = page.length < PAGE ? undefined : page.at(-1)?.seq;
        }
      } catch (error) {
        finish();
        controller.error(error);
        return;
      }
      for (const event of held.splice(0)) send(frame(event));
      live = true;
      if (done) return;
      heartbeat = setInterval(() => send(": heartbeat\n\n"), deps.heartbeatMs);
    },
    cancel: finish,
  });
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
      return new Response(eventStream(deps, filter, after, request.signal), {
        headers: {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
          // nginx and similar proxies would otherwise buffer the stream.
          "x-accel-buffering": "no",
        },
      });
    },
    {
      transform: ({ request }) => checkQueryString(request.url),
      query: EventsQuery,
      response: {
        200: t.String({
          description:
            "text/event-stream: each message has `id: <seq>` and `data: <event as JSON>` (the schema " +
            "OrderEvent, as in GET /orders/{order_id}/events); comments are heartbeats",
        }),
        400: ErrorBody,
        422: ErrorBody,
        503: ErrorBody,
      },
      detail: {
        operationId: "streamEvents",
        summary: "Live order events (Server-Sent Events)",
        description:
          "Every order event as it is committed, optionally only one order's or one user's. Reconnect " +
          "with Last-Event-ID (EventSource does) to get exactly the events missed, then live ones. A " +
          "client that leaves SSE_MAX_QUEUED_EVENTS events unread is disconnected.",
      },
    },
  );
}
