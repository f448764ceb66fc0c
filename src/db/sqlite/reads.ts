/**
 * The reads of the SQLite adapter, on the main thread's read-only connection: one prepared
 * statement per function, prepared once. WAL lets them run while the writer thread commits.
 */
import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import { ORDER_STATUSES, type Order, type OrderStatus } from "../../order.ts";
import type { Db } from "./client.ts";
import { orderCounts, orders, toOrder } from "./schema.ts";

/** Prepares the read statements on `db`. */
export function createReads(db: Db) {
  const byId = db
    .select()
    .from(orders)
    .where(eq(orders.orderId, sql.placeholder("orderId")))
    .prepare();
  const statusById = db
    .select({ orderId: orders.orderId, status: orders.status })
    .from(orders)
    .where(eq(orders.orderId, sql.placeholder("orderId")))
    .prepare();
  const counts = db.select().from(orderCounts).prepare();

  return {
    /** The whole order, or undefined. */
    findOrder(orderId: string): Order | undefined {
      const row = byId.get({ orderId });
      return row && toOrder(row);
    },
    /** Just the id and status. */
    findOrderStatus(orderId: string): { orderId: string; status: OrderStatus } | undefined {
      return statusById.get({ orderId });
    },
    /** Up to `limit` orders after `afterSeq`, filtered, in creation order (off the seq-keyed indexes). */
    listOrders(filter: { status?: OrderStatus; userId?: string; afterSeq: number; limit: number }): Order[] {
      const conditions: SQL[] = [gt(orders.seq, filter.afterSeq)];
      if (filter.status) conditions.push(eq(orders.status, filter.status));
      if (filter.userId !== undefined) conditions.push(eq(orders.userId, filter.userId));
      return db
        .select()
        .from(orders)
        .where(and(...conditions))
        .orderBy(asc(orders.seq))
        .limit(filter.limit)
        .all()
        .map(toOrder);
    },
    /** The trigger-maintained totals: a handful of rows, whatever the table size. */
    countOrders() {
      const byStatus = Object.fromEntries(ORDER_STATUSES.map((status) => [status, 0])) as Record<
        OrderStatus,
        number
      >;
      let completedProcessingMs = 0;
      for (const row of counts.all()) {
        byStatus[row.status] = row.orders;
        if (row.status === "completed") completedProcessingMs = row.processingMs;
      }
      return { byStatus, completedProcessingMs };
    },
  };
}
