/**
 * The orders port on PostgreSQL: creates batched per event-loop turn (creates.ts), guarded changes
 * by id (a cancel, an operator's retry: one statement each, with its event), and the reads.
 */
import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import type { ListFilter, Order, OrderChange, OrderEvent } from "../../records/order.ts";
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
  /** The order as the port speaks it (the statement a change that changed nothing ends with). */
  const findOne = async (orderId: string) => (await pool.query<Order>(q.selectOrders([[orderId]]))).rows[0];

  return {
    createOrder: creates.create,
    changeOrder: (orderId: string, change: OrderChange, now: number) =>
      guarded("change", async () => {
        const changed = (await pool.query<Order>(q.changeOrder(orderId, change, now))).rows[0];
        if (!changed) return { changed: false as const, order: await findOne(orderId) };
        // A change that set when the order is next due (an operator's retry: due now) may have made
        // it claimable: the other replicas' dispatchers hear it now, not at their next poll. Told by
        // the columns given, not by the transition, which this adapter does not interpret; a change
        // that leaves `run_at` alone (a cancel) wakes no queue (test/storage-postgres.test.ts).
        if (change.runAt !== undefined) notifier.notify(NEW_ORDERS);
        recorded();
        return { changed: true as const, order: changed };
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
