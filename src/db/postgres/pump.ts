/**
 * The queue's pump on PostgreSQL: a pump's results recorded, then each worker slot filled in turn,
 * in one transaction on one pooled connection (one commit for the lot). Each statement inserts the
 * events of the transitions it makes (queue-sql.ts).
 */
import type pg from "pg";
import type { ClaimRequest, Order, SettleAndClaimResult, Settlement } from "../../order.ts";
import * as q from "./queue-sql.ts";

/** What a pump did: the port's answer, and whether it changed any order (recorded any event). */
export type PumpResult = SettleAndClaimResult & { changed: boolean };

/** Runs one pump in a transaction of its own. */
export async function settleAndClaim(
  pool: pg.Pool,
  args: { settlements: Settlement[]; claims: ClaimRequest[]; now: number; leaseUntil: number },
): Promise<PumpResult> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // This shard's counter rows, in the order every trigger takes them (status order), before any
    // statement below takes some of them: the pump's statements would otherwise take them in
    // their own order, and two pumps of one shard could deadlock.
    await client.query(q.lockCounters([]));
    let changed = (await settle(client, args.settlements, args.now)) > 0;
    const claimed: Order[][] = [];
    let nextDueAt: number | null | undefined;
    for (const { owner, limit } of args.claims) {
      if (nextDueAt !== undefined) {
        claimed.push([]);
        continue;
      }
      const rows = (
        await client.query<Order & { runAt: number }>(
          q.claimOrders([owner, limit, args.now, args.leaseUntil]),
        )
      ).rows;
      rows.sort((a, b) => a.runAt - b.runAt || a.seq - b.seq);
      claimed.push(rows.map(({ runAt: _runAt, ...order }) => order));
      if (rows.length > 0) changed = true;
      if (rows.length < limit)
        nextDueAt = (await client.query<{ runAt: number | null }>(q.nextDue([]))).rows[0]?.runAt ?? null;
    }
    await client.query("COMMIT");
    return { claimed, nextDueAt, changed };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Records the results, one statement per kind; returns how many orders they changed. */
async function settle(client: pg.PoolClient, settlements: Settlement[], now: number): Promise<number> {
  const done = settlements.filter((s) => s.kind === "completed");
  const retried = settlements.filter((s) => s.kind === "retry");
  const failed = settlements.filter((s) => s.kind === "failed");
  let changed = 0;
  if (done.length > 0) {
    const result = await client.query(
      q.completeOrders([done.map((s) => s.seq), done.map((s) => s.owner), now]),
    );
    changed += result.rowCount ?? 0;
  }
  if (retried.length > 0) {
    const result = await client.query(
      q.retryOrders([
        retried.map((s) => s.seq),
        retried.map((s) => s.owner),
        retried.map((s) => s.runAt),
        retried.map((s) => s.error),
        now,
      ]),
    );
    changed += result.rowCount ?? 0;
  }
  if (failed.length > 0) {
    const result = await client.query(
      q.failOrders([failed.map((s) => s.seq), failed.map((s) => s.owner), failed.map((s) => s.error), now]),
    );
    changed += result.rowCount ?? 0;
  }
  return changed;
}
