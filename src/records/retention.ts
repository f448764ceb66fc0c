/**
 * The records of the retention port (src/retention/store.ts): one bounded batch of pruning and
 * what it did. Adapters delete the oldest rows first, a batch at a time, so a pass is a walk up the
 * table's `seq` from `after`.
 */

/** One batch: delete up to `limit` rows after `after` (a seq) that are older than `before` (epoch ms). */
export type PruneBatch = { before: number; after: number; limit: number };

/**
 * What a batch did: the rows it deleted and, when there may be more to delete, the seq to pass as
 * the next batch's `after` (absent: this pass is done; `busy`: another replica is pruning).
 */
export type PruneResult = { deleted: number; next?: number; busy?: boolean };

/** The oldest event kept (absent when there is none). */
export type OldestEvent = { seq: number; at: number };

/**
 * How far a batch may go, given the oldest rows after its `after` in `seq` order (at most `limit`
 * of them, each with its time): the leading run of rows older than `before`, never the newest row
 * of the table (`latest`: SQLite would hand its seq out again once it was gone). Rows are ordered
 * by seq and their times rise with it (the writer stamps them in order; on PostgreSQL, within the
 * milliseconds two transactions overlap), so the first row that is recent enough ends the run.
 * Returns the last seq of the run and whether the table may hold more to delete.
 */
export function prunableRun(
  rows: { seq: number; at: number }[],
  batch: PruneBatch,
  latest: number,
): { last?: number; more: boolean } {
  let last: number | undefined;
  for (const row of rows) {
    if (row.at >= batch.before || row.seq >= latest) return { last, more: false };
    last = row.seq;
  }
  return { last, more: rows.length === batch.limit };
}
