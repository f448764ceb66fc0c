/** The response model of `GET /dashboard/data`, for validation and the OpenAPI document. */
import { t } from "elysia";
import { ORDER_STATUSES } from "../records/order.ts";

const Percentiles = t.Object(
  {
    p50: t.Nullable(t.Number()),
    p95: t.Nullable(t.Number()),
    p99: t.Nullable(t.Number()),
  },
  { description: "Milliseconds, over the last window_s seconds of all replicas; null without data" },
);

/** Subscriptions listed in the webhooks section: the furthest behind. */
export const BEHIND_SHOWN = 20;

export const DashboardWebhooks = t.Object(
  {
    lagging_after_ms: t.Integer({
      description: "WEBHOOK_LAGGING_AFTER_MS: a subscription lags once its oldest undelivered event is older",
    }),
    pending: t.Integer({ description: "Deliveries pending, all subscriptions together" }),
    subscriptions_behind: t.Integer({ description: "Subscriptions with at least one delivery pending" }),
    subscriptions_lagging: t.Integer({ description: "Of those, the ones lagging (as GET /webhooks says)" }),
    behind: t.Array(
      t.Object({
        id: t.String({ description: "The subscription's id (GET /webhooks/{id}/deliveries)" }),
        origin: t.String({
          description:
            "Scheme, host and port of its URL: the path and query, which may hold the receiver's token, " +
            "are left out, as this answer may be public (DASHBOARD_PUBLIC); GET /webhooks has the whole URL",
        }),
        pending: t.Integer({
          description: "Its deliveries pending (due, waiting for a retry, or being sent)",
        }),
        oldest_age_ms: t.Integer({ description: "How long its oldest undelivered event has waited" }),
        lagging: t.Boolean({ description: "oldest_age_ms is over lagging_after_ms" }),
      }),
      {
        description: `The subscriptions with deliveries pending, furthest behind first (at most ${BEHIND_SHOWN})`,
      },
    ),
  },
  {
    description:
      "Webhook receivers that cannot keep up. The outbox is read at most once a second, and less " +
      "often while that read is slow (a large outbox); the ages are as of `at`",
  },
);
export type DashboardWebhooks = typeof DashboardWebhooks.static;

export const DashboardDataView = t.Object({
  at: t.String({ format: "date-time" }),
  replicas: t.Integer({ description: "Replicas that reported in the last 5 s (1 on SQLite)" }),
  orders: t.Object({
    total: t.Integer(),
    by_status: t.Object(Object.fromEntries(ORDER_STATUSES.map((status) => [status, t.Integer()]))),
  }),
  history: t.Object({
    oldest_event_at: t.Nullable(
      t.String({
        format: "date-time",
        description:
          "When the oldest event kept was recorded (older ones were pruned: EVENT_RETENTION_DAYS); null: none",
      }),
    ),
  }),
  retries_total: t.Integer({ description: "Failed attempts retried since the replicas started" }),
  failures_total: t.Integer({ description: "Orders failed for good since the replicas started" }),
  window_s: t.Integer(),
  queue_wait_ms: Percentiles,
  processing_ms: Percentiles,
  slots: t.Object({ busy: t.Integer(), capacity: t.Integer() }),
  recent_failures: t.Array(
    t.Object({
      order_id: t.String(),
      user_id: t.String(),
      attempts: t.Integer(),
      last_error: t.Nullable(t.String()),
      created_at: t.String({ format: "date-time" }),
      failed_step: t.Nullable(
        t.String({ description: "A module's steps: the step it failed in; null otherwise" }),
      ),
      compensation: t.Nullable(
        t.Union([t.Literal("compensated"), t.Literal("compensation_failed")], {
          description: "A module's steps: whether its completed steps were undone; null otherwise",
        }),
      ),
    }),
    { description: "The latest failed orders, newest first (at most 10)" },
  ),
  webhooks: DashboardWebhooks,
  value_accepted: t.Array(
    t.Object({
      currency: t.String({ description: "ISO 4217 code" }),
      amount: t.String({ description: "Decimal in the currency's digits" }),
      minor: t.Integer({
        description: "Integer minor units (the nearest number past 2^53; amount is exact)",
      }),
    }),
    {
      description: "Value of the orders accepted over the last window_s seconds, by currency, largest first",
    },
  ),
  steps: t.Array(
    t.Object({
      name: t.String(),
      completed: t.Integer(),
      failed: t.Integer({ description: "Attempts that failed in this step" }),
      compensated: t.Integer(),
      compensation_failed: t.Integer(),
      p50_ms: t.Nullable(t.Number({ description: "Of its completed runs; null without any" })),
      p95_ms: t.Nullable(t.Number()),
    }),
    {
      description:
        "A module's steps (PROCESS_ORDER_MODULE exporting steps) over the last window_s seconds of all replicas, in pipeline order; empty otherwise",
    },
  ),
});
