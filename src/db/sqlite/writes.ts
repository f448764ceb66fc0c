/**
 * Every write of the SQLite adapter, as named operations: the table the writer thread runs
 * (writer-thread.ts loads this module by URL). Each runs inside that thread's shared group-commit
 * transaction, so each one is atomic and they are serialised with each other: a claim and a cancel
 * of the same order can never both win. Arguments and results cross threads by structured clone,
 * so they are plain data; times come from the caller, which owns the clock. No business rule lives
 * here: every change arrives as a transition (src/lifecycle.ts), applied as given with its event.
 */
import { eq, sql } from "drizzle-orm";
import type { Order, OrderChange, Transition } from "../../records/order.ts";
import type { ClaimRequest, Settlement, StepRecord } from "../../records/queue.ts";
import type { Db } from "./client.ts";
import { type Changed, createQueueSql } from "./queue-sql.ts";
import { createRetentionWrites } from "./retention-sql.ts";
import { orderEvents, orders, toOrder } from "./schema.ts";
import { createWebhookWrites } from "./webhook-sql.ts";

/** A new order as the main thread sends it: item ids and cart already JSON, so strings cross threads. */
export type NewOrderRow = {
  orderId: string;
  userId: string;
  itemIds: string;
  currency: string;
  totalMinor: number;
  cart: string | null;
  createdAt: number;
  traceParent?: string | null;
};

const p = sql.placeholder;

/** Records `transition` of the order `changed`, in the transaction that made it. */
type RecordEvent = (changed: Changed, transition: Transition, at: number) => void;

/** The statement that records each transition's event. */
function eventRecorder(db: Db): RecordEvent {
  const insertEvent = db
    .insert(orderEvents)
    .values({
      orderSeq: p("orderSeq"),
      type: p("type"),
      fromStatus: p("fromStatus"),
      toStatus: p("toStatus"),
      attempt: p("attempt"),
      at: p("at"),
      details: p("details"),
    })
    .prepare();
  return (changed, transition, at) =>
    insertEvent.run({
      orderSeq: changed.seq,
      type: transition.type,
      fromStatus: transition.from,
      toStatus: transition.to,
      attempt: changed.attempts,
      at,
      details: transition.details && JSON.stringify(transition.details),
    });
}

/** The orders port's writes: creates, and changes by order id (cancel, operator retry). */
function orderWrites(db: Db, record: RecordEvent) {
  const insert = db
    .insert(orders)
    .values({
      orderId: p("orderId"),
      userId: p("userId"),
      itemIds: p("itemIds"),
      currency: p("currency"),
      totalMinor: p("totalMinor"),
      cart: p("cart"),
      traceParent: p("traceParent"),
      status: sql`${p("status")}`,
      createdAt: p("createdAt"),
      runAt: p("createdAt"),
    })
    // The unique index on order_id decides idempotency, even for concurrent duplicates.
    .onConflictDoNothing({ target: orders.orderId })
    .returning({ seq: orders.seq })
    .prepare();
  const byId = db
    .select()
    .from(orders)
    .where(eq(orders.orderId, p("orderId")))
    .prepare();
  // Guarded by status (and attempts, when asked): of a claim and a cancel only one can win.
  const change = db
    .update(orders)
    .set({
      status: sql`${p("to")}`,
      runAt: sql`coalesce(${p("runAt")}, ${orders.runAt})`,
      attempts: sql`coalesce(${p("attempts")}, ${orders.attempts})`,
      cancelRequestedAt: sql`coalesce(${p("cancelRequestedAt")}, ${orders.cancelRequestedAt})`,
    })
    .where(
      sql`${orders.orderId} = ${p("orderId")} AND ${orders.status} = ${p("from")}
        AND (${p("ifAttempts")} IS NULL OR ${orders.attempts} = ${p("ifAttempts")})`,
    )
    .returning()
    .prepare();
  const findOrder = (orderId: string) => {
    const row = byId.get({ orderId });
    return row && toOrder(row);
  };

  return {
    /** Inserts a new order in `created.to`, due now; else returns the order that had its order_id. */
    createOrder(
      order: NewOrderRow,
      created: Transition,
    ): { created: true } | { created: false; existing: Order } {
      const inserted = insert.get({ ...order, traceParent: order.traceParent ?? null, status: created.to });
      if (inserted !== undefined) {
        record({ seq: inserted.seq, attempts: 0 }, created, order.createdAt);
        return { created: true };
      }
      const existing = findOrder(order.orderId);
      if (!existing) throw new Error(`order ${order.orderId} neither inserted nor found`);
      return { created: false, existing };
    },

    /** Applies `change` if its guards hold; otherwise the order as it is (or undefined). */
    changeOrder(args: {
      orderId: string;
      change: OrderChange;
      now: number;
    }): { changed: true; order: Order } | { changed: false; order: Order | undefined } {
      const { orderId, change: wanted, now } = args;
      const { transition } = wanted;
      const row = change.get({
        orderId,
        from: transition.from,
        to: transition.to,
        runAt: wanted.runAt ?? null,
        attempts: wanted.attempts ?? null,
        ifAttempts: wanted.ifAttempts ?? null,
        cancelRequestedAt: wanted.cancelRequestedAt ?? null,
      });
      if (!row) return { changed: false, order: findOrder(orderId) };
      record(row, transition, now);
      return { changed: true, order: toOrder(row) };
    },
  };
}

/** The queue port's writes: the pump, the releases and the lease renewals. */
function queueWrites(db: Db, record: RecordEvent) {
  const queue = createQueueSql(db);
  const recordAll = (rows: Changed[], transition: Transition, now: number) => {
    for (const row of rows) record(row, transition, now);
    return rows.length;
  };
  /** Where a hold ends: its guard, its new status and time. */
  const hold = (released: Transition, now: number) => ({ from: released.from, to: released.to, now });

  return {
    /**
     * Records the settlements, then claims the oldest due orders, one per request in turn; when
     * fewer were due than asked for, `nextDueAt` says when to look again.
     */
    settleAndClaim(args: {
      settlements: Settlement[];
      claims: ClaimRequest[];
      now: number;
      leaseUntil: number;
    }) {
      const { now, leaseUntil } = args;
      for (const s of args.settlements) {
        const { transition } = s;
        const row = queue.settleOrder({
          seq: s.seq,
          owner: s.owner,
          from: transition.from,
          to: transition.to,
          runAt: s.runAt,
          lastError: s.lastError,
          completedAt: s.completedAt,
        });
        if (row) record(row, transition, now);
      }
      const { claims } = args;
      const from = claims[0]?.transition.from ?? null;
      // One statement per run of requests from one owner (a thread's free slots), in turn; once one
      // gets fewer than it asked for, no order is left due for the ones after it.
      const claimed: Order[] = [];
      for (let i = 0; i < claims.length; ) {
        const { owner, transition } = claims[i] as ClaimRequest;
        let limit = 1;
        while (claims[i + limit]?.owner === owner) limit++;
        const orders = queue.claimOrders({ owner, from, to: transition.to, now, leaseUntil, limit });
        for (const [k, order] of orders.entries())
          record(order, (claims[i + k] as ClaimRequest).transition, now);
        claimed.push(...orders);
        if (orders.length < limit) break;
        i += limit;
      }
      const short = claimed.length < claims.length;
      return { claimed, nextDueAt: short ? queue.nextDueAt(from) : undefined };
    },

    /** Appends each completed step to its order, where its owner still holds it; the seqs recorded. */
    recordSteps(args: { records: StepRecord[]; now: number }): number[] {
      const recorded: number[] = [];
      for (const { seq, owner, transition, step } of args.records) {
        const row = queue.appendStep({ seq, owner, from: transition.from, step: JSON.stringify(step) });
        if (!row) continue;
        record(row, transition, args.now);
        recorded.push(seq);
      }
      return recorded;
    },

    /** Ends every hold of `owner` with `released`. */
    releaseOrders(args: { owner: string; now: number; released: Transition }): number {
      const { owner, now, released } = args;
      return recordAll(queue.releaseOrders({ ...hold(released, now), owner }), released, now);
    },

    /** Ends every hold with `released` (start-up, under the file lock: no holder survived). */
    releaseAllOrders(args: { now: number; released: Transition }): number {
      return recordAll(queue.releaseAllOrders(hold(args.released, args.now)), args.released, args.now);
    },

    /** Rescue: ends with `released` every hold whose lease ran out. */
    releaseExpiredLeases(args: { now: number; released: Transition }): number {
      return recordAll(queue.releaseExpiredLeases(hold(args.released, args.now)), args.released, args.now);
    },

    /** Extends the lease of each of these orders that its owner still holds. */
    renewLeases(args: { held: { seq: number; owner: string }[]; until: number }): number[] {
      return args.held
        .filter(({ seq, owner }) => queue.renewLease({ seq, owner, until: args.until }))
        .map((h) => h.seq);
    },
  };
}

/** Prepares the write operations on the writer thread's connection. */
export function createWriteOps(db: Db) {
  const record = eventRecorder(db);
  return {
    ...orderWrites(db, record),
    ...queueWrites(db, record),
    // Subscriptions and the outbox's deliveries (webhook-sql.ts).
    ...createWebhookWrites(db),
    // Retention's bounded deletes of the oldest rows (retention-sql.ts).
    ...createRetentionWrites(db),

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
