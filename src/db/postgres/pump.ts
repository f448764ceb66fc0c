/**
 * The queue's pump on PostgreSQL: a pump's results recorded, then one due order claimed per
 * request, in one call of `orders_settle_and_claim` (drizzle/postgres/0008_apply_transitions.sql):
 * one statement, so one round trip and one commit for the lot. Each transition inserts its event in
 * that statement.
 */
import type pg from "pg";
import type { Order } from "../../records/order.ts";
import type { ClaimRequest, SettleAndClaimResult, Settlement } from "../../records/queue.ts";
import { queryWithDeadline } from "./deadline.ts";
import * as q from "./queue-sql.ts";

/** What a pump did: the port's answer, and whether it may have changed an order (recorded events). */
export type PumpResult = SettleAndClaimResult & { changed: boolean };

/** Runs one pump; it is one transaction, ended by the server if it runs past `deadlineMs`. */
export async function settleAndClaim(
  pool: pg.Pool,
  args: { settlements: Settlement[]; claims: ClaimRequest[]; now: number; leaseUntil: number },
  deadlineMs: number,
): Promise<PumpResult> {
  const { settlements, claims } = args;
  const rows = (await queryWithDeadline<Order & { runAt: number }>(pool, q.pump(args), deadlineMs)).rows;
  // The function gave the n-th oldest claimed order (by runAt, then seq) to the n-th request.
  const claimed = rows
    .sort((a, b) => a.runAt - b.runAt || a.seq - b.seq)
    .map(({ runAt: _runAt, ...order }) => order);
  // Claiming stopped when the queue had no more due now, so the dispatcher needs to know when the
  // next one falls due. The pump has committed: if this read fails, its claims must still reach the
  // workers, so the answer is "unknown" (null), on which the dispatcher looks again within its idle
  // interval.
  const nextDueAt =
    claimed.length < claims.length
      ? await pool.query<{ runAt: number | null }>(q.nextDue([])).then(
          (result) => result.rows[0]?.runAt ?? null,
          () => null,
        )
      : undefined;
  // A fenced result that lost its lease changes nothing; counting it as a change only wakes the
  // event readers for nothing.
  return { claimed, nextDueAt, changed: settlements.length > 0 || rows.length > 0 };
}
