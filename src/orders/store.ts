/**
 * The orders feature's SQL: one prepared statement per function, prepared once per connection.
 * The main thread uses the reads; the writes run only on the writer thread, through writes.ts.
 */
import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type NewOrderRow, type OrderRow, type OrderStatus, orderMetrics, orders } from "../db/schema.ts";

/** Filters and page position of a listing; `afterSeq` is the decoded cursor. */
export type ListFilter = { status?: OrderStatus; userId?: string; afterSeq: number; limit: number };

/** Prepares the statements of the orders feature on `db`. */
export function createOrderStore(db: Db) {
  const insert = db
    .insert(orders)
    .values({
      orderId: sql.placeholder("orderId"),
      userId: sql.placeholder("userId"),
      itemIds: sql.placeholder("itemIds"),
      totalCents: sql.placeholder("totalCents"),
      status: "pending",
      createdAt: sql.placeholder("createdAt"),
      runAt: sql.placeholder("createdAt"),
    })
    // The unique index on order_id decides idempotency, even for concurrent duplicates.
    .onConflictDoNothing({ target: orders.orderId })
    .returning({ seq: orders.seq })
    .prepare();
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
  // Guarded by status: a worker's claim (pending -> processing) and a cancel can never both win.
  const cancelPending = db
    .update(orders)
    .set({ status: "cancelled" })
    .where(and(eq(orders.orderId, sql.placeholder("orderId")), eq(orders.status, "pending")))
    .returning()
    .prepare();
  const metrics = db.select().from(orderMetrics).where(eq(orderMetrics.id, 1)).prepare();
  const touch = db.update(orderMetrics).set({ id: 1 }).where(eq(orderMetrics.id, 1)).prepare();

  return {
    /** Inserts a new pending order; false when the order_id already exists. */
    insertOrder(
      row: Pick<NewOrderRow, "orderId" | "userId" | "itemIds" | "totalCents" | "createdAt">,
    ): boolean {
      return insert.get(row) !== undefined;
    },
    /** The whole order, or undefined. */
    findOrder(orderId: string): OrderRow | undefined {
      return byId.get({ orderId });
    },
    /** Just the id and status, the hot read of `GET /orders/:id/status`. */
    findOrderStatus(orderId: string) {
      return statusById.get({ orderId });
    },
    /** Cancels the order if it is still pending; undefined when it was not. */
    cancelPendingOrder(orderId: string): OrderRow | undefined {
      return cancelPending.get({ orderId });
    },
    /** One page in creation order, one row more than asked so the caller knows if more follow. */
    listOrders(filter: ListFilter): OrderRow[] {
      const conditions: SQL[] = [gt(orders.seq, filter.afterSeq)];
      if (filter.status) conditions.push(eq(orders.status, filter.status));
      if (filter.userId !== undefined) conditions.push(eq(orders.userId, filter.userId));
      return db
        .select()
        .from(orders)
        .where(and(...conditions))
        .orderBy(asc(orders.seq))
        .limit(filter.limit + 1)
        .all();
    },
    /** The trigger-maintained totals behind `GET /metrics`: one row, whatever the table size. */
    readMetrics() {
      const row = metrics.get();
      if (!row) throw new Error("order_metrics row is missing; migrations were not applied");
      return row;
    },
    /** A write that changes nothing, committed to prove the database is writable (/ready). */
    touchMetrics(): void {
      touch.run();
    },
  };
}

/** The prepared statements of the orders feature. */
export type OrderStore = ReturnType<typeof createOrderStore>;
