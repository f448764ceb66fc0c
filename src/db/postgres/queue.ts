/**
 * The queue port on PostgreSQL: the pump (pump.ts, one statement), lease renewal, rescue and the
 * release of a dead thread's orders, each with a server-side deadline (deadline.ts), and the
 * wake-ups of other replicas' new orders (LISTEN, notify.ts).
 */
import type pg from "pg";
import type { Transition } from "../../records/order.ts";
import type { ClaimRequest, Settlement, StepRecord } from "../../records/queue.ts";
import type { Adapter } from "./context.ts";
import { queryWithDeadline } from "./deadline.ts";
import { NEW_ORDERS } from "./notify.ts";
import { settleAndClaim } from "./pump.ts";
import * as q from "./queue-sql.ts";

/** The queue port over `adapter`. */
export function createQueueStore(adapter: Adapter) {
  const { pool, guarded, recorded, listener, deadlineMs } = adapter;
  /** Runs a release statement; announces its events, if it recorded any; returns how many. */
  async function release(statement: pg.QueryConfig): Promise<number> {
    const count = (await queryWithDeadline(pool, statement, deadlineMs)).rowCount ?? 0;
    if (count > 0) recorded();
    return count;
  }

  return {
    settleAndClaim: (args: {
      settlements: Settlement[];
      claims: ClaimRequest[];
      now: number;
      leaseUntil: number;
    }) =>
      guarded("pump", async () => {
        const { changed, ...result } = await settleAndClaim(pool, args, deadlineMs);
        if (changed) recorded();
        return result;
      }),
    recordSteps: (args: { records: StepRecord[]; now: number }) =>
      guarded("step record", async () => {
        const statement = q.recordSteps(args.records, args.now);
        const seqs = (await queryWithDeadline<{ seq: number }>(pool, statement, deadlineMs)).rows.map(
          (r) => r.seq,
        );
        if (seqs.length > 0) recorded();
        return seqs;
      }),
    releaseOrders: (args: { owner: string; now: number; released: Transition }) =>
      guarded("release", () => release(q.releaseOwner(args))),
    subscribe: (notified: () => void) => listener.subscribe(NEW_ORDERS, notified),
    releaseExpiredLeases: (args: { now: number; released: Transition }) =>
      guarded("rescue", () => release(q.releaseExpired(args))),
    renewLeases: (args: { held: { seq: number; owner: string }[]; until: number }) =>
      guarded("lease renewal", async () => {
        const seqs = args.held.map((h) => h.seq);
        const statement = q.renewLeases([seqs, args.held.map((h) => h.owner), args.until]);
        return (await queryWithDeadline<{ seq: number }>(pool, statement, deadlineMs)).rows.map((r) => r.seq);
      }),
  };
}
