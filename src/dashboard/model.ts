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

export const DashboardDataView = t.Object({
  at: t.String({ format: "date-time" }),
  replicas: t.Integer({ description: "Replicas that reported in the last 5 s (1 on SQLite)" }),
  orders: t.Object({
    total: t.Integer(),
    by_status: t.Object(Object.fromEntries(ORDER_STATUSES.map((status) => [status, t.Integer()]))),
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
    }),
    { description: "The latest failed orders, newest first (at most 10)" },
  ),
});
