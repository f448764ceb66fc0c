/**
 * The system port on PostgreSQL: the counts behind /metrics (the sum of at most 80 counter rows,
 * whatever the number of orders) and the write probe behind /ready.
 */
import { ORDER_STATUSES, type OrderStatus } from "../../records/order.ts";
import type { Adapter } from "./context.ts";
import { statement } from "./sql.ts";

const countOrders = statement(
  "count_orders",
  `SELECT status, sum(orders)::float8 AS orders, sum(processing_ms)::float8 AS "processingMs"
   FROM order_counts GROUP BY status`,
);

/** The system port over `adapter`. */
export function createSystemStore({ pool, guarded }: Adapter) {
  return {
    countOrders: () =>
      guarded("count", async () => {
        const byStatus = Object.fromEntries(ORDER_STATUSES.map((status) => [status, 0])) as Record<
          OrderStatus,
          number
        >;
        let completedProcessingMs = 0;
        const { rows } = await pool.query<{ status: OrderStatus; orders: number; processingMs: number }>(
          countOrders([]),
        );
        for (const row of rows) {
          byStatus[row.status] = row.orders;
          if (row.status === "completed") completedProcessingMs = row.processingMs;
        }
        return { byStatus, completedProcessingMs };
      }),
    // Assigning a transaction id makes the commit write (and, with synchronous_commit on, flush) WAL.
    probeWrite: () =>
      guarded("probe", async () => {
        await pool.query("SELECT txid_current()");
      }),
  };
}
