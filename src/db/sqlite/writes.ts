/**
 * Every write of the SQLite adapter, as named operations: the table the writer thread runs
 * (writer-thread.ts loads this module by URL). Each runs inside that thread's shared group-commit
 * transaction, so each one is atomic and they are serialised with each other: a claim and a cancel
 * of the same order can never both win. Arguments and results cross threads by structured clone,
 * so they are plain data; times come from the caller, which owns the clock. No business rule lives
 * here: the ports' callers decide (what a cancel of a completed order means, when to retry).
 */
import { and, eq, sql } from "drizzle-orm";
import type { Order } from "../../order.ts";
import type { Db } from "./client.ts";
import { createQueueSql } from "./queue-sql.ts";
import { orders, toOrder } from "./schema.ts";

/** A new order as the main thread sends it: item ids already JSON, so one string crosses threads. */
export type NewOrderRow = {
  orderId: string;
  userId: string;
  itemIds: string;
  totalCents: number;
  createdAt: number;
};

/** A settlement of the queue port (queue/store.ts), restated here: db/ imports no feature. */
type Settlement =
  | { kind: "completed"; seq: number; owner: string }
  | { kind: "retry"; seq: number; owner: string; runAt: number; error: string }
  | { kind: "failed"; seq: number; owner: string; error: string };

/** Prepares the write operations on the writer thread's connection. */
export function createWriteOps(db: Db) {
  const queue = createQueueSql(db);
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
  const findOrder = (orderId: string) => {
    const row = byId.get({ orderId });
    return row && toOrder(row);
  };

  return {
    /** Inserts a new pending order, due now; else returns the order that already had its order_id. */
    createOrder(order: NewOrderRow): { created: true } | { created: false; existing: Order } {
      if (insert.get(order) !== undefined) return { created: true };
      const existing = findOrder(order.orderId);
      if (!existing) throw new Error(`order ${order.orderId} neither inserted nor found`);
      return { created: false, existing };
    },

    /** pending -> cancelled; otherwise the order as it is (or undefined). */
    cancelOrder(
      orderId: string,
    ): { cancelled: true; order: Order } | { cancelled: false; order: Order | undefined } {
      const row = cancelPending.get({ orderId });
      if (row) return { cancelled: true, order: toOrder(row) };
      return { cancelled: false, order: findOrder(orderId) };
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
        if (settlement.kind === "completed") queue.completeOrder({ ...settlement, now });
        else if (settlement.kind === "retry") queue.retryOrder(settlement);
        else queue.failOrder(settlement);
      }
      const claimed: Order[][] = [];
      let nextDueAt: number | null | undefined;
      for (const { owner, limit } of args.claims) {
        const rows = nextDueAt === undefined ? queue.claimOrders({ owner, limit, now, leaseUntil }) : [];
        claimed.push(rows);
        if (rows.length < limit && nextDueAt === undefined) nextDueAt = queue.nextDueAt();
      }
      return { claimed, nextDueAt };
    },

    /** Puts every order `owner` holds back to pending. */
    releaseOrders(args: { owner: string; now: number }): number {
      return queue.releaseOrders(args);
    },

    /** Puts every processing order back to pending (start-up, under the file lock). */
    releaseAllOrders(now: number): number {
      return queue.releaseAllOrders(now);
    },

    /** Rescue: processing orders whose lease ended go back to pending. */
    releaseExpiredLeases(now: number): number {
      return queue.releaseExpiredLeases(now);
    },

    /** Extends the lease of each of these orders that its owner still holds. */
    renewLeases(args: { held: { seq: number; owner: string }[]; until: number }): void {
      for (const { seq, owner } of args.held) queue.renewLease({ seq, owner, until: args.until });
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
