/**
 * All queue SQL of the SQLite adapter, one prepared statement per function. They run on the writer
 * thread's connection inside `WriteBatcher` jobs (see writes.ts), so every statement of a turn
 * shares one transaction; the single writer is what serialises claims against cancels and
 * completions (no row locks needed). Every write after a claim is guarded by
 * `status = 'processing' AND claimed_by = <owner>`, so a result from a worker that lost its claim
 * (it died and its orders were released) changes nothing.
 */
import { and, asc, eq, inArray, lt, lte, min, sql } from "drizzle-orm";
import type { Order } from "../../order.ts";
import type { Db } from "./client.ts";
import { orders, toOrder } from "./schema.ts";

/** An order a transition changed: its seq and attempt count. */
export type Changed = { seq: number; attempts: number };

/** Prepares the queue statements on `db`. */
export function createQueueSql(db: Db) {
  const owner = sql.placeholder("owner");
  const held = and(
    eq(orders.seq, sql.placeholder("seq")),
    eq(orders.status, "processing"),
    eq(orders.claimedBy, owner),
  );

  // What a transition reports about each order it changed: enough to record its event.
  const changed = { seq: orders.seq, attempts: orders.attempts };

  // Oldest due first, read in order off orders_queue_idx (status, run_at, seq).
  const due = db
    .select({ seq: orders.seq })
    .from(orders)
    .where(and(eq(orders.status, "pending"), lte(orders.runAt, sql.placeholder("now"))))
    .orderBy(asc(orders.runAt), asc(orders.seq))
    .limit(sql.placeholder("limit"));
  const claim = db
    .update(orders)
    .set({
      status: "processing",
      startedAt: sql`${sql.placeholder("now")}`,
      attempts: sql`${orders.attempts} + 1`,
      claimedBy: sql`${owner}`,
      leaseUntil: sql`${sql.placeholder("leaseUntil")}`,
    })
    .where(inArray(orders.seq, due))
    .returning()
    .prepare();
  const complete = db
    .update(orders)
    .set({
      status: "completed",
      completedAt: sql`${sql.placeholder("now")}`,
      claimedBy: null,
      leaseUntil: null,
    })
    .where(held)
    .returning(changed)
    .prepare();
  const retry = db
    .update(orders)
    .set({
      status: "pending",
      runAt: sql`${sql.placeholder("runAt")}`,
      lastError: sql`${sql.placeholder("error")}`,
      claimedBy: null,
      leaseUntil: null,
    })
    .where(held)
    .returning(changed)
    .prepare();
  const fail = db
    .update(orders)
    .set({ status: "failed", lastError: sql`${sql.placeholder("error")}`, claimedBy: null, leaseUntil: null })
    .where(held)
    .returning(changed)
    .prepare();
  const release = db
    .update(orders)
    .set({ status: "pending", runAt: sql`${sql.placeholder("now")}`, claimedBy: null, leaseUntil: null })
    .where(and(eq(orders.status, "processing"), eq(orders.claimedBy, owner)))
    .returning(changed)
    .prepare();
  const releaseAll = db
    .update(orders)
    .set({ status: "pending", runAt: sql`${sql.placeholder("now")}`, claimedBy: null, leaseUntil: null })
    .where(eq(orders.status, "processing"))
    .returning(changed)
    .prepare();
  const releaseExpired = db
    .update(orders)
    .set({ status: "pending", runAt: sql`${sql.placeholder("now")}`, claimedBy: null, leaseUntil: null })
    .where(and(eq(orders.status, "processing"), lt(orders.leaseUntil, sql.placeholder("now"))))
    .returning(changed)
    .prepare();
  const renew = db
    .update(orders)
    .set({ leaseUntil: sql`${sql.placeholder("until")}` })
    .where(held)
    .returning({ seq: orders.seq })
    .prepare();
  const nextDue = db
    .select({ runAt: min(orders.runAt) })
    .from(orders)
    .where(eq(orders.status, "pending"))
    .prepare();

  return {
    /** Marks up to `limit` due pending orders processing for `owner`; returns them, oldest first. */
    claimOrders(args: { owner: string; limit: number; now: number; leaseUntil: number }): Order[] {
      // RETURNING gives rows in no promised order; the runAt of a claimed row is not in `Order`.
      const rows = claim.all(args).sort((a, b) => a.runAt - b.runAt || a.seq - b.seq);
      return rows.map(toOrder);
    },
    /** processing -> completed, if `owner` still holds the order; the order, if it changed. */
    completeOrder(args: { seq: number; owner: string; now: number }): Changed | undefined {
      return complete.get(args);
    },
    /** processing -> pending after a failed attempt, eligible again at `runAt`. */
    retryOrder(args: { seq: number; owner: string; runAt: number; error: string }): Changed | undefined {
      return retry.get(args);
    },
    /** processing -> failed after the last allowed attempt. */
    failOrder(args: { seq: number; owner: string; error: string }): Changed | undefined {
      return fail.get(args);
    },
    /** Puts every order `owner` holds back to pending; returns them. */
    releaseOrders(args: { owner: string; now: number }): Changed[] {
      return release.all(args);
    },
    /** Puts every processing order back to pending; returns them. */
    releaseAllOrders(now: number): Changed[] {
      return releaseAll.all({ now });
    },
    /** Puts every processing order whose lease ended before `now` back to pending; returns them. */
    releaseExpiredLeases(now: number): Changed[] {
      return releaseExpired.all({ now });
    },
    /** Extends the lease of order `seq` to `until`, if `owner` still holds it; whether it did. */
    renewLease(args: { seq: number; owner: string; until: number }): boolean {
      return Boolean(renew.get(args));
    },
    /** When the earliest pending order becomes due, or null when none is pending. */
    nextDueAt(): number | null {
      return nextDue.get()?.runAt ?? null;
    },
  };
}
