/**
 * Every write the service makes, as named operations. They run only on the database writer thread
 * (db/writer-thread.ts), each inside that thread's shared group-commit transaction, so each one is
 * atomic and they are serialised with each other: a claim and a cancel of the same order can never
 * both win. Arguments and results cross threads by structured clone, so they are plain data; times
 * come from the caller, which owns the clock. A client error is thrown as an `AppError` and fails
 * only its own operation.
 */
import type { Db } from "./db/client.ts";
import type { OrderRow } from "./db/schema.ts";
import { AppError } from "./errors.ts";
import { createOrderStore } from "./orders/store.ts";
import { createQueueStore } from "./queue/sql.ts";

/** What a worker reported for an order it held, decided by the dispatcher. */
export type Outcome =
  | { kind: "completed"; seq: number; owner: string }
  | { kind: "retry"; seq: number; owner: string; runAt: number; error: string }
  | { kind: "failed"; seq: number; owner: string; error: string };

/** A request to fill a worker slot: claim up to `limit` due orders for `owner`. */
export type ClaimRequest = { owner: string; limit: number };

/** The new order's columns, as the caller computed them. */
export type NewOrder = {
  orderId: string;
  userId: string;
  itemIds: string;
  totalCents: number;
  createdAt: number;
};

/** Prepares the write operations on the writer thread's connection. */
export function createWriteOps(db: Db) {
  const orders = createOrderStore(db);
  const queue = createQueueStore(db);
  return {
    /**
     * Inserts a new pending order; null when it was new, otherwise the order that already had this
     * order_id (the unique index decides, so concurrent duplicates create one order).
     */
    createOrder(order: NewOrder): OrderRow | null {
      if (orders.insertOrder(order)) return null;
      const existing = orders.findOrder(order.orderId);
      if (!existing) throw new Error(`order ${order.orderId} neither inserted nor found`);
      return existing;
    },

    /** pending -> cancelled; a cancelled order stays as it is; anything else is a 404 or 409. */
    cancelOrder(orderId: string): OrderRow {
      const cancelled = orders.cancelPendingOrder(orderId);
      if (cancelled) return cancelled;
      const current = orders.findOrder(orderId);
      if (!current) throw new AppError(404, "ORDER_NOT_FOUND", `No order with order_id '${orderId}'`);
      if (current.status === "cancelled") return current;
      throw new AppError(
        409,
        "ORDER_NOT_CANCELLABLE",
        `Order '${orderId}' is ${current.status}; only pending orders can be cancelled`,
      );
    },

    /**
     * The dispatcher's pump: records what workers reported, then claims due orders for each slot
     * in turn. `claimed[i]` answers `claims[i]`; once a slot gets fewer than it asked for, no
     * order is due, so the rest get nothing and `nextDueAt` says when to look again.
     */
    settleAndClaim(args: { outcomes: Outcome[]; claims: ClaimRequest[]; now: number }) {
      const { now } = args;
      for (const outcome of args.outcomes) {
        if (outcome.kind === "completed") queue.completeOrder({ ...outcome, now });
        else if (outcome.kind === "retry") queue.retryOrder(outcome);
        else queue.failOrder(outcome);
      }
      const claimed: OrderRow[][] = [];
      let nextDueAt: number | null | undefined;
      for (const { owner, limit } of args.claims) {
        const rows = nextDueAt === undefined ? queue.claimOrders({ owner, limit, now }) : [];
        claimed.push(rows);
        if (rows.length < limit && nextDueAt === undefined) nextDueAt = queue.nextDueAt();
      }
      return { claimed, nextDueAt };
    },

    /** Puts every order `owner` holds back to pending (its worker died, or shutdown timed out). */
    releaseOrders(args: { owner: string; now: number }): void {
      queue.releaseOrders(args);
    },

    /** At start-up only: every processing order was left by a dead process; back to pending. */
    releaseAllOrders(now: number): number {
      return queue.releaseAllOrders(now);
    },

    /** A write that changes nothing, committed to prove the database is writable (/ready). */
    touch(): void {
      orders.touchMetrics();
    },
  };
}

/** The write operations, by name. */
export type WriteOps = ReturnType<typeof createWriteOps>;
