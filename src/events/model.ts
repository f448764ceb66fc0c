/**
 * The public shape of an order event, as `GET /orders/:order_id/events`, `GET /events` and the
 * webhooks send it, with the schema the OpenAPI document shows.
 */
import { t } from "elysia";
import { attemptFailed, describeEventTypes } from "../lifecycle.ts";
import {
  EVENT_TYPES,
  type EventType,
  ORDER_STATUSES,
  type OrderEvent,
  type OrderStatus,
  type Transition,
} from "../records/order.ts";

const DESCRIBED = describeEventTypes();

/** An event's transition fields as the API shows them, for the documentation's examples. */
export const exampleOf = (transition: Transition, attempt: number) => ({
  type: transition.type,
  from_status: transition.from,
  to_status: transition.to,
  attempt,
  details: transition.details,
});

// Unsafe only gives the unions their static types (a .map() over the list would widen them).
const Status = t.Unsafe<OrderStatus>(t.Union(ORDER_STATUSES.map((status) => t.Literal(status))));

export const EventView = t.Object(
  {
    seq: t.Integer({ description: "Global and increasing; the SSE id and Last-Event-ID" }),
    order_id: t.String(),
    user_id: t.String(),
    type: t.Unsafe<EventType>(
      t.Union(
        EVENT_TYPES.map((type) => t.Literal(type)),
        { description: DESCRIBED.types },
      ),
    ),
    from_status: t.Nullable(Status),
    to_status: Status,
    attempt: t.Integer({ description: "The order's attempts after this transition" }),
    at: t.String({ format: "date-time", description: "ISO-8601 UTC" }),
    details: t.Nullable(t.Record(t.String(), t.Unknown(), { description: DESCRIBED.details })),
  },
  {
    examples: [
      {
        seq: 1042,
        order_id: "order_456",
        user_id: "user_123",
        ...exampleOf(attemptFailed("payment gateway timed out", 180), 1),
        at: "2026-11-27T09:00:00.105Z",
      },
    ],
  },
);
export type EventView = typeof EventView.static;

export const OrderEventsView = t.Object({
  order_id: t.String(),
  events: t.Array(EventView),
  events_pruned: t.Boolean({
    description:
      "true when the order's earliest events are no longer kept (EVENT_RETENTION_DAYS): `events` is the rest of its history",
  }),
});
export type OrderEventsView = typeof OrderEventsView.static;

/** The public shape of an event. */
export function toEventView(event: OrderEvent): EventView {
  return {
    seq: event.seq,
    order_id: event.orderId,
    user_id: event.userId,
    type: event.type,
    from_status: event.fromStatus,
    to_status: event.toStatus,
    attempt: event.attempt,
    at: new Date(event.at).toISOString(),
    details: event.details,
  };
}
