/**
 * The reads of the SQLite adapter, on the main thread's read-only connection: one prepared
 * statement per function, prepared once. WAL lets them run while the writer thread commits.
 */
import { and, asc, desc, eq, gt, lte, max, type SQL, sql } from "drizzle-orm";
import { ORDER_STATUSES, type Order, type OrderEvent, type OrderStatus } from "../../records/order.ts";
import type { OldestEvent } from "../../records/retention.ts";
import type { Db } from "./client.ts";
import { orderCounts, orderEvents, orders, toOrder } from "./schema.ts";

/** The columns of an event, the order's id and user joined in. */
export const eventColumns = {
  seq: orderEvents.seq,
  orderId: orders.orderId,
  userId: orders.userId,
  type: orderEvents.type,
  fromStatus: orderEvents.fromStatus,
  toStatus: orderEvents.toStatus,
  attempt: orderEvents.attempt,
  at: orderEvents.at,
  details: orderEvents.details,
};

/** An event row as the ports speak it: details parsed. */
export const toEvent = (row: Omit<OrderEvent, "details"> & { details: string | null }): OrderEvent => ({
  ...row,
  details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
});

/** The reads of orders: one by id, its status, a listing page, recent failures, the counts. */
function orderReads(db: Db) {
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
  const failedNewestFirst = db
    .select()
    .from(orders)
    .where(eq(orders.status, "failed"))
    .orderBy(desc(orders.seq))
    .limit(sql.placeholder("limit"))
    .prepare();

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
    /** Up to `limit` failed orders, newest first (off the (status, seq) index, read backwards). */
    listRecentFailures(limit: number): Order[] {
      return failedNewestFirst.all({ limit }).map(toOrder);
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

/** The reads of events: one order's history, a page of the stream, the latest position. */
function eventReads(db: Db) {
  const eventsOf = db
    .select(eventColumns)
    .from(orderEvents)
    .innerJoin(orders, eq(orders.seq, orderEvents.orderSeq))
    .where(eq(orders.orderId, sql.placeholder("orderId")))
    .orderBy(asc(orderEvents.seq))
    .prepare();
  const oldest = db
    .select({ seq: orderEvents.seq, at: orderEvents.at })
    .from(orderEvents)
    .orderBy(asc(orderEvents.seq))
    .limit(1)
    .prepare();
  const latest = db
    .select({ seq: max(orderEvents.seq) })
    .from(orderEvents)
    .prepare();

  return {
    /** The order's events, oldest first. */
    listOrderEvents(orderId: string): OrderEvent[] {
      return eventsOf.all({ orderId }).map(toEvent);
    },
    /** Events after `after` (up to `upTo`), filtered, in `seq` order: the single writer commits in it. */
    readEvents(query: {
      after: number;
      upTo?: number;
      limit: number;
      orderId?: string;
      userId?: string;
    }): OrderEvent[] {
      const conditions: SQL[] = [gt(orderEvents.seq, query.after)];
      if (query.upTo !== undefined) conditions.push(lte(orderEvents.seq, query.upTo));
      if (query.orderId !== undefined) conditions.push(eq(orders.orderId, query.orderId));
      if (query.userId !== undefined) conditions.push(eq(orders.userId, query.userId));
      return db
        .select(eventColumns)
        .from(orderEvents)
        .innerJoin(orders, eq(orders.seq, orderEvents.orderSeq))
        .where(and(...conditions))
        .orderBy(asc(orderEvents.seq))
        .limit(query.limit)
        .all()
        .map(toEvent);
    },
    /** The latest event's seq, 0 when there is none. */
    latestEventSeq(): number {
      return latest.get()?.seq ?? 0;
    },
    /** The oldest event kept (retention deletes from the oldest up), if any. */
    oldestEvent(): OldestEvent | undefined {
      return oldest.get() ?? undefined;
    },
  };
}

/** Prepares the read statements on `db`. */
export function createReads(db: Db) {
  return { ...orderReads(db), ...eventReads(db) };
}
