/**
 * All queue SQL of the SQLite adapter, one prepared statement per function. They run on the writer
 * thread's connection inside `WriteBatcher` jobs (see writes.ts), so every statement of a turn
 * shares one transaction; the single writer is what serialises claims against cancels and
 * completions (no row locks needed). Statuses come from the caller's transition (src/lifecycle.ts):
 * each statement guards on the one it is given and sets the one it is given. Every write after a
 * claim is also guarded by `claimed_by = <owner>`, so a result from a worker that lost its claim
 * (it died and its orders were released) changes nothing.
 */
import { and, asc, eq, inArray, lt, lte, min, sql } from "drizzle-orm";
import type { Order } from "../../records/order.ts";
import type { Db } from "./client.ts";
import { orders, toOrder } from "./schema.ts";

/** An order a transition changed: its seq and attempt count. */
export type Changed = { seq: number; attempts: number };

const p = sql.placeholder;

// What a transition reports about each order it changed: enough to record its event.
const changed = { seq: orders.seq, attempts: orders.attempts };
const fromStatus = eq(orders.status, sql`${p("from")}`);

/** The columns a settlement may set besides the status. */
const SETTLE_COLUMNS = ["runAt", "lastError", "completedAt"] as const;
type SettleColumn = (typeof SETTLE_COLUMNS)[number];

/** Where a hold starts or ends: the status it is guarded on, the one it sets, and when. */
type Hold = { from: string | null; to: string; now: number };

/** The claim's statements: which orders are due, taking one, when the next one falls due. */
function claimSql(db: Db) {
  // Oldest due first, read in order off orders_queue_idx (status, run_at, seq).
  const due = db
    .select({ seq: orders.seq })
    .from(orders)
    .where(and(fromStatus, lte(orders.runAt, p("now"))))
    .orderBy(asc(orders.runAt), asc(orders.seq))
    .limit(p("limit"));
  const claim = db
    .update(orders)
    .set({
      status: sql`${p("to")}`,
      startedAt: sql`${p("now")}`,
      attempts: sql`${orders.attempts} + 1`,
      claimedBy: sql`${p("owner")}`,
      leaseUntil: sql`${p("leaseUntil")}`,
    })
    .where(inArray(orders.seq, due))
    .returning()
    .prepare();
  const nextDue = db
    .select({ runAt: min(orders.runAt) })
    .from(orders)
    .where(fromStatus)
    .prepare();
  return {
    /** Claims up to `limit` orders in `from` due at `now` for `owner`; returns them, oldest first. */
    claimOrders(args: Hold & { owner: string; limit: number; leaseUntil: number }): Order[] {
      // RETURNING gives rows in no promised order; the runAt of a claimed row is not in `Order`.
      const rows = claim.all(args).sort((a, b) => a.runAt - b.runAt || a.seq - b.seq);
      return rows.map(toOrder);
    },
    /** When the earliest order in `from` becomes due, or null when there is none. */
    nextDueAt: (from: string | null): number | null => nextDue.get({ from })?.runAt ?? null,
  };
}

/** The statements that end a hold (a settlement, a release) or extend it (a renewal). */
function holdSql(db: Db) {
  // Ending a hold: back to the given status, due at `now`, no owner, no lease.
  const releasing = { status: sql`${p("to")}`, runAt: sql`${p("now")}`, claimedBy: null, leaseUntil: null };
  // One statement per set of columns a settlement gives (a completion sets completed_at, a retry
  // run_at and last_error): setting only those keeps the others, and their indexes, untouched.
  const settleBy = new Map<string, ReturnType<typeof settleStatement>>();
  const settleStatement = (columns: SettleColumn[]) =>
    db
      .update(orders)
      .set({
        status: sql`${p("to")}`,
        claimedBy: null,
        leaseUntil: null,
        ...Object.fromEntries(columns.map((column) => [column, sql`${p(column)}`])),
      })
      .where(and(eq(orders.seq, p("seq")), fromStatus, eq(orders.claimedBy, p("owner"))))
      .returning(changed)
      .prepare();
  const settle = (columns: SettleColumn[]) => {
    const key = columns.join();
    const known = settleBy.get(key);
    if (known) return known;
    const statement = settleStatement(columns);
    settleBy.set(key, statement);
    return statement;
  };
  const release = db
    .update(orders)
    .set(releasing)
    .where(and(fromStatus, eq(orders.claimedBy, p("owner"))))
    .returning(changed)
    .prepare();
  const releaseAll = db.update(orders).set(releasing).where(fromStatus).returning(changed).prepare();
  const releaseExpired = db
    .update(orders)
    .set(releasing)
    .where(and(fromStatus, lt(orders.leaseUntil, p("now"))))
    .returning(changed)
    .prepare();
  // A step completed: appended to the order's steps, the hold kept (the attempt goes on).
  const appendStep = db
    .update(orders)
    .set({ steps: sql`json_insert(coalesce(${orders.steps}, '[]'), '$[#]', json(${p("step")}))` })
    .where(and(eq(orders.seq, p("seq")), fromStatus, eq(orders.claimedBy, p("owner"))))
    .returning(changed)
    .prepare();
  // Held: claimed_by is set by a claim and cleared by whatever ends the hold.
  const renew = db
    .update(orders)
    .set({ leaseUntil: sql`${p("until")}` })
    .where(and(eq(orders.seq, p("seq")), eq(orders.claimedBy, p("owner"))))
    .returning({ seq: orders.seq })
    .prepare();
  return {
    /** Settles order `seq` if `owner` holds it in `from`; the order, if it changed. */
    settleOrder(
      args: Omit<Hold, "now"> & { seq: number; owner: string } & Partial<Record<SettleColumn, unknown>>,
    ): Changed | undefined {
      const columns = SETTLE_COLUMNS.filter((column) => args[column] !== undefined);
      return settle(columns).get(args);
    },
    /** Appends `step` (JSON) to order `seq`'s steps if `owner` holds it in `from`; the order, if so. */
    appendStep: (args: {
      seq: number;
      owner: string;
      from: string | null;
      step: string;
    }): Changed | undefined => appendStep.get(args),
    /** Ends every hold of `owner` in `from`; returns the orders. */
    releaseOrders: (args: Hold & { owner: string }): Changed[] => release.all(args),
    /** Ends every hold in `from` (start-up: no holder survived); returns the orders. */
    releaseAllOrders: (args: Hold): Changed[] => releaseAll.all(args),
    /** Ends every hold in `from` whose lease ended before `now`; returns the orders. */
    releaseExpiredLeases: (args: Hold): Changed[] => releaseExpired.all(args),
    /** Extends the lease of order `seq` to `until`, if `owner` still holds it; whether it did. */
    renewLease: (args: { seq: number; owner: string; until: number }): boolean => Boolean(renew.get(args)),
  };
}

/** Prepares the queue statements on `db`. */
export function createQueueSql(db: Db) {
  return { ...claimSql(db), ...holdSql(db) };
}
