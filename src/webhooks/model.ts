/**
 * Request and response models of the webhooks API, and the payload schema of each event type the
 * subscribers receive (for the OpenAPI document's `webhooks` section).
 */
import { t } from "elysia";
import { EventView, exampleOf } from "../events/model.ts";
import { DEFAULT_PAGE, limitRule } from "../kit/paging.ts";
import * as lifecycle from "../lifecycle.ts";
import { EVENT_TYPES, type EventType } from "../records/order.ts";
import { DELIVERY_STATUSES, type DeliveryStatus } from "../records/webhook.ts";

/** Largest page of deliveries. */
export const MAX_DELIVERY_PAGE = 500;

const EventTypeName = t.Unsafe<EventType>(
  t.Union(
    EVENT_TYPES.map((type) => t.Literal(type)),
    { error: `must be one of ${EVENT_TYPES.join(", ")}` },
  ),
);
const DeliveryStatusName = t.Unsafe<DeliveryStatus>(
  t.Union(
    DELIVERY_STATUSES.map((status) => t.Literal(status)),
    { error: `must be one of ${DELIVERY_STATUSES.join(", ")}` },
  ),
);
const Time = t.String({ format: "date-time", description: "ISO-8601 UTC" });

export const CreateWebhookBody = t.Object(
  {
    url: t.String({
      minLength: 1,
      maxLength: 2048,
      description:
        "http or https URL that receives the events. Private, loopback and link-local addresses are " +
        "refused unless WEBHOOK_ALLOWED_HOSTS lists the host; when it is set, only listed hosts are allowed",
      error: "must be an http or https URL of at most 2,048 characters",
    }),
    event_types: t.Optional(
      t.Array(EventTypeName, {
        minItems: 1,
        uniqueItems: true,
        description: "Only these event types; every type when absent",
        error: `must be a non-empty list of distinct event types: ${EVENT_TYPES.join(", ")}`,
      }),
    ),
  },
  {
    additionalProperties: false,
    error: "must be a JSON object with url and, optionally, event_types",
    examples: [{ url: "https://shop.example.com/hooks/orders", event_types: ["completed", "failed"] }],
  },
);
export type CreateWebhookBody = typeof CreateWebhookBody.static;

export const WebhookView = t.Object({
  id: t.String(),
  url: t.String(),
  event_types: t.Nullable(t.Array(EventTypeName, { description: "null: every type" })),
  created_at: Time,
});
export type WebhookView = typeof WebhookView.static;

export const CreatedWebhookView = t.Object(
  {
    ...WebhookView.properties,
    secret: t.String({
      description:
        "The signing secret (whsec_…): shown only in this answer. Verify each delivery's " +
        "webhook-signature with it (Standard Webhooks)",
    }),
  },
  {
    examples: [
      {
        id: "3f6b0c1e-2d4a-4c8e-9a57-1b2c3d4e5f60",
        url: "https://shop.example.com/hooks/orders",
        event_types: ["completed", "failed"],
        created_at: "2026-11-27T09:00:00.000Z",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      },
    ],
  },
);
export type CreatedWebhookView = typeof CreatedWebhookView.static;

/** The largest page of GET /webhooks. */
export const MAX_WEBHOOK_PAGE = 100;

export const WebhooksQuery = t.Object(
  {
    limit: t.Optional(
      t.Integer({
        description: `1 to ${MAX_WEBHOOK_PAGE}; ${DEFAULT_PAGE} when absent`,
        error: limitRule(MAX_WEBHOOK_PAGE),
      }),
    ),
    cursor: t.Optional(t.String({ description: "next_cursor of the previous page" })),
  },
  { additionalProperties: false, error: "allowed query parameters: limit, cursor" },
);
export type WebhooksQuery = typeof WebhooksQuery.static;

/** A subscription as the listing shows it: with how far behind its deliveries are. */
export const ListedWebhookView = t.Object({
  ...WebhookView.properties,
  backlog: t.Integer({
    description: "Deliveries pending in its outbox (due, waiting for a retry, or being sent)",
  }),
  lagging: t.Boolean({
    description:
      "Its oldest undelivered event is older than WEBHOOK_LAGGING_AFTER_MS: its receiver fails or is " +
      "slower than the events (nothing is lost: every delivery is kept and sent)",
  }),
});
export type ListedWebhookView = typeof ListedWebhookView.static;

export const WebhookList = t.Object({
  webhooks: t.Array(ListedWebhookView),
  next_cursor: t.Nullable(t.String({ description: "Pass as cursor for the next page; null on the last" })),
});
export type WebhookList = typeof WebhookList.static;

export const WebhookIdParams = t.Object({ id: t.String({ description: "The subscription's id" }) });
export const DeliveryParams = t.Object({
  id: t.String({ description: "The subscription's id" }),
  seq: t.String({ description: "The delivery's seq" }),
});

export const DeliveryView = t.Object({
  seq: t.Integer(),
  webhook_id: t.String(),
  event_seq: t.Integer({ description: "The event delivered (see GET /orders/{order_id}/events)" }),
  status: DeliveryStatusName,
  attempts: t.Integer(),
  next_attempt_at: Time,
  last_error: t.Nullable(t.String()),
  last_status: t.Nullable(t.Integer({ description: "HTTP status of the last answer" })),
  delivered_at: t.Nullable(Time),
  created_at: Time,
});
export type DeliveryView = typeof DeliveryView.static;

export const DeliveriesQuery = t.Object(
  {
    status: t.Optional(DeliveryStatusName),
    limit: t.Optional(
      t.Integer({
        description: `1 to ${MAX_DELIVERY_PAGE}; ${DEFAULT_PAGE} when absent`,
        error: limitRule(MAX_DELIVERY_PAGE),
      }),
    ),
    cursor: t.Optional(t.String({ description: "next_cursor of the previous page" })),
  },
  { additionalProperties: false, error: "allowed query parameters: status, limit, cursor" },
);
export type DeliveriesQuery = typeof DeliveriesQuery.static;

export const DeliveryPage = t.Object({
  deliveries: t.Array(DeliveryView),
  next_cursor: t.Nullable(t.String()),
});
export type DeliveryPage = typeof DeliveryPage.static;

/** An example event of each type, for the payload examples: each transition and its attempt count. */
const EXAMPLE_EVENTS = new Map(
  (
    [
      [lifecycle.created(), 0],
      [lifecycle.claimed("worker-0-slot-3"), 1],
      [lifecycle.stepCompleted("charge"), 1],
      [lifecycle.stepFailed("book_shipment", "carrier refused"), 5],
      [lifecycle.stepCompensated("charge"), 6],
      [lifecycle.stepCompensationFailed("charge", "refund refused"), 10],
      [lifecycle.completed(), 1],
      [lifecycle.attemptFailed("payment gateway timed out", 740), 1],
      [lifecycle.failed("card declined"), 5],
      [lifecycle.cancelled(), 0],
      [lifecycle.cancelRequested(), 1],
      [lifecycle.cancelCompleted(), 6],
      [lifecycle.retried(5), 0],
      [lifecycle.restarted(), 1],
    ] as const
  ).map(([transition, attempt]) => [transition.type, exampleOf(transition, attempt)]),
);

/**
 * The OpenAPI `webhooks` section: for each event type, the signed POST a subscriber receives, its
 * body's schema and an example.
 */
export function webhookDocuments(): Record<string, unknown> {
  const headers = {
    "webhook-id": "The message id: the same on every attempt of this delivery (drop duplicates by it)",
    "webhook-timestamp": "Seconds since the epoch when this attempt was signed",
    "webhook-signature": "v1,<base64 HMAC-SHA256 of <webhook-id>.<webhook-timestamp>.<body>>",
  };
  return Object.fromEntries(
    EVENT_TYPES.map((type) => {
      const body = t.Object({ type: t.Literal(`order.${type}`), timestamp: Time, data: EventView });
      const example = {
        type: `order.${type}`,
        timestamp: "2026-11-27T09:00:00.105Z",
        data: {
          seq: 1042,
          order_id: "order_456",
          user_id: "user_123",
          ...EXAMPLE_EVENTS.get(type),
          at: "2026-11-27T09:00:00.105Z",
        },
      };
      const operation = {
        operationId: `order${type.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase())}Webhook`,
        summary: `order.${type}`,
        description: "Sent to each subscription whose event_types include this type (or that has none).",
        parameters: Object.entries(headers).map(([name, description]) => ({
          name,
          in: "header",
          required: true,
          description,
          schema: { type: "string" },
        })),
        requestBody: {
          required: true,
          content: { "application/json": { schema: JSON.parse(JSON.stringify(body)), example } },
        },
        responses: {
          "2XX": { description: "Received; any other answer (or none in WEBHOOK_TIMEOUT_MS) is retried" },
        },
      };
      return [`order.${type}`, { post: operation }];
    }),
  );
}
