/**
 * The orders port on PostgreSQL: creates batched per event-loop turn (creates.ts), guarded cancel
 * and operator retry (one statement each, with their events), and the reads.
 */
import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import type { ListFilter, Order, OrderEvent } from "../../order.ts";
import type { Adapter } from "./context.ts";
import type { createBatcher } from "./creates.ts";
import * as ev from "./events-sql.ts";
import { NEW_ORDERS } from "./notify.ts";
import * as q from "./queue-sql.ts";
import { orders, toOrder } from "./schema.ts";

/** The orders port over `adapter`; `creates` batches the creates. */
export function createOrderStore(adapter: Adapter, creates: ReturnType<typeof createBatcher>) {
  const { pool, db, guarded, recorded, notifier } = adapter;
  const byId = db
    .select()
    .from(orders)
    .where(eq(orders.orderId, sql.placeholder("orderId")))
    .prepare("find_order");
  const statusById = db
    .select({ orderId: orders.orderId, status: orders.status })
    .from(orders)
    .where(eq(orders.orderId, sql.placeholder("orderId")))
    .prepare("find_order_status");
  /** The order as the port speaks it (the statement a cancel or retry that changed nothing ends with). */
  const findOne = async (orderId: string) => (await pool.query<Order>(q.selectOrders([[orderId]]))).rows[0];

  return {
    createOrder: creates.create,
    cancelOrder: (orderId: string, now: number) =>
      guarded("cancel", async () => {
        const cancelled = (await pool.query<Order>(q.cancelPending([orderId, now]))).rows[0];
        if (!cancelled) return { cancelled: false as const, order: await findOne(orderId) };
        recorded();
        return { cancelled: true as const, order: cancelled };
      }),
    retryOrder: (orderId: string, now: number) =>
      guarded("retry", async () => {
        const retried = (await pool.query<Order>(q.retryFailed([orderId, now]))).rows[0];
        if (!retried) return { retried: false as const, order: await findOne(orderId) };
        notifier.notify(NEW_ORDERS);
        recorded();
        return { retried: true as const, order: retried };
      }),
    listOrderEvents: (orderId: string) =>
      guarded("read", async () => (await pool.query<OrderEvent>(ev.listOrderEvents([orderId]))).rows),
    findOrder: (orderId: string) =>
      guarded("read", async () => {
        const row = (await byId.execute({ orderId }))[0];
        return row && toOrder(row);
      }),
    findOrderStatus: (orderId: string) =>
      guarded("read", async () => (await statusById.execute({ orderId }))[0]),
    listOrders: (filter: ListFilter) =>
      guarded("read", async () => {
        const conditions: SQL[] = [gt(orders.seq, filter.afterSeq)];
        if (filter.status) conditions.push(eq(orders.status, filter.status));
        if (filter.userId !== undefined) conditions.push(eq(orders.userId, filter.userId));
        const rows = await db
          .select()
          .from(orders)
          .where(and(...conditions))
          .orderBy(asc(orders.seq))
          .limit(filter.limit);
        return rows.map(toOrder);
      }),
  };
}
