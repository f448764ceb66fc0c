/**
 * Every write of the SQLite adapter, as named operations: the table the writer thread runs
 * (writer-thread.ts loads this module by URL). Each runs inside that thread's shared group-commit
 * transaction, so each one is atomic and they are serialised with each other: a claim and a cancel
 * of the same order can never both win. Arguments and results cross threads by structured clone,
 * so they are plain data; times come from the caller, which owns the clock. No business rule lives
 * here: the ports' callers decide (what a cancel of a completed order means, when to retry).
 */
import { and, eq, sql } from "drizzle-orm";
import type { EventType, Order, OrderStatus, Settlement } from "../../order.ts";
import type { Db } from "./client.ts";
import { type Changed, createQueueSql } from "./queue-sql.ts";
import { orderEvents, orders, toOrder } from "./schema.ts";
import { createWebhookWrites } from "./webhook-sql.ts";

/** A new order as the main thread sends it: item ids already JSON, so one string crosses threads. */
export type NewOrderRow = {
  orderId: string;
  userId: string;
  itemIds: string;
  totalCents: number;
  createdAt: number;
};

/** Why a processing order went back to pending without a result (the `released` event's reason). */
type ReleaseReason = "worker_stopped" | "restart" | "lease_expired";

/** Prepares the write operations on the writer thread's connection. */
export function createWriteOps(db: Db) {
  const queue = createQueueSql(db);
  const insertEvent = db
    .insert(orderEvents)
    .values({
      orderSeq: sql.placeholder("orderSeq"),
      type: sql.placeholder("type"),
      fromStatus: sql.placeholder("fromStatus"),
      toStatus: sql.placeholder("toStatus"),
      attempt: sql.placeholder("attempt"),
      at: sql.placeholder("at"),
      details: sql.placeholder("details"),
    })
    .prepare();
  /** Records one transition of the order `changed`, in the transaction that made it. */
  const record = (
    changed: Changed,
    type: EventType,
    [fromStatus, toStatus]: [OrderStatus | null, OrderStatus],
    at: number,
    details: Record<string, unknown> | null = null,
  ) =>
    insertEvent.run({
      orderSeq: changed.seq,
      type,
      fromStatus,
      toStatus,
      attempt: changed.attempts,
      at,
      details: details && JSON.stringify(details),
    });
  const released = (rows: Changed[], now: number, reason: ReleaseReason) => {
    for (const row of rows) record(row, "released", ["processing", "pending"], now, { reason });
    return rows.length;
  };
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
  // Guarded by status: a worker's claim (pending -> processing) and a cancel can never both win.
  const cancelPending = db
    .update(orders)
    .set({ status: "cancelled" })
    .where(and(eq(orders.orderId, sql.placeholder("orderId")), eq(orders.status, "pending")))
    .returning()
    .prepare();
  // An operator's retry: failed -> pending, due now, with a fresh attempt budget.
  const retryFailed = db
    .update(orders)
    .set({ status: "pending", attempts: 0, runAt: sql`${sql.placeholder("now")}` })
    .where(and(eq(orders.orderId, sql.placeholder("orderId")), eq(orders.status, "failed")))
    .returning()
    .prepare();
  const findOrder = (orderId: string) => {
    const row = byId.get({ orderId });
    return row && toOrder(row);
  };

  return {
    // Subscriptions and the outbox's deliveries (webhook-sql.ts).
    ...createWebhookWrites(db),

    /** Inserts a new pending order, due now; else returns the order that already had its order_id. */
    createOrder(order: NewOrderRow): { created: true } | { created: false; existing: Order } {
      const inserted = insert.get(order);
      if (inserted !== undefined) {
        record({ seq: inserted.seq, attempts: 0 }, "created", [null, "pending"], order.createdAt);
        return { created: true };
      }
      const existing = findOrder(order.orderId);
      if (!existing) throw new Error(`order ${order.orderId} neither inserted nor found`);
      return { created: false, existing };
    },

    /** pending -> cancelled; otherwise the order as it is (or undefined). */
    cancelOrder(args: {
      orderId: string;
      now: number;
    }): { cancelled: true; order: Order } | { cancelled: false; order: Order | undefined } {
      const row = cancelPending.get({ orderId: args.orderId });
      if (!row) return { cancelled: false, order: findOrder(args.orderId) };
      record(row, "cancelled", ["pending", "cancelled"], args.now);
      return { cancelled: true, order: toOrder(row) };
    },

    /** failed -> pending with a fresh attempt budget; otherwise the order as it is (or undefined). */
    retryOrder(args: {
      orderId: string;
      now: number;
    }): { retried: true; order: Order } | { retried: false; order: Order | undefined } {
      const before = findOrder(args.orderId);
      const row = retryFailed.get(args);
      if (!row || !before) return { retried: false, order: before };
      record(row, "retried", ["failed", "pending"], args.now, { previous_attempts: before.attempts });
      return { retried: true, order: toOrder(row) };
    },

    /**
     * Records the settlements, then claims due orders for each slot in turn. Once a slot gets
     * fewer than it asked for, no order is due: the rest get nothing and `nextDueAt` says when to
     * look again.
     */
    settleAndClaim(args: {
      settlements: Settlement[];
      claims: { owner: string; limit: number }[];
      now: number;
      leaseUntil: number;
    }) {
      const { now, leaseUntil } = args;
      for (const settlement of args.settlements) {
        if (settlement.kind === "completed") {
          const row = queue.completeOrder({ ...settlement, now });
          if (row) record(row, "completed", ["processing", "completed"], now);
        } else if (settlement.kind === "retry") {
          const row = queue.retryOrder(settlement);
          const details = { error: settlement.error, backoff_ms: settlement.runAt - now };
          if (row) record(row, "attempt_failed", ["processing", "pending"], now, details);
        } else {
          const row = queue.failOrder(settlement);
          if (row) record(row, "failed", ["processing", "failed"], now, { error: settlement.error });
        }
      }
      const claimed: Order[][] = [];
      let nextDueAt: number | null | undefined;
      for (const { owner, limit } of args.claims) {
        const rows = nextDueAt === undefined ? queue.claimOrders({ owner, limit, now, leaseUntil }) : [];
        for (const row of rows) record(row, "claimed", ["pending", "processing"], now, { claimed_by: owner });
        claimed.push(rows);
        if (rows.length < limit && nextDueAt === undefined) nextDueAt = queue.nextDueAt();
      }
      return { claimed, nextDueAt };
    },

    /** Puts every order `owner` holds back to pending. */
    releaseOrders(args: { owner: string; now: number }): number {
      return released(queue.releaseOrders(args), args.now, "worker_stopped");
    },

    /** Puts every processing order back to pending (start-up, under the file lock). */
    releaseAllOrders(now: number): number {
      return released(queue.releaseAllOrders(now), now, "restart");
    },

    /** Rescue: processing orders whose lease ended go back to pending. */
    releaseExpiredLeases(now: number): number {
      return released(queue.releaseExpiredLeases(now), now, "lease_expired");
    },

    /** Extends the lease of each of these orders that its owner still holds. */
    renewLeases(args: { held: { seq: number; owner: string }[]; until: number }): number[] {
      return args.held
        .filter(({ seq, owner }) => queue.renewLease({ seq, owner, until: args.until }))
        .map((h) => h.seq);
    },

    /**
     * A committed write that changes nothing: rewriting the header's user_version with its own
     * value dirties one page, so the commit and the fsync really reach the disk (/ready).
     */
    probeWrite(): void {
      const { user_version } = db.$client.query("PRAGMA user_version").get() as { user_version: number };
      db.$client.run(`PRAGMA user_version = ${user_version}`);
    },
  };
}

/** The write operations, by name. */
export type WriteOps = ReturnType<typeof createWriteOps>;
