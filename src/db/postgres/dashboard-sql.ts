/**
 * The dashboard SQL of the PostgreSQL adapter, named statements like queue-sql.ts: every replica's
 * latest activity report, one row each in `replica_activity`, and the latest failed orders.
 */
import { ORDER_COLUMNS } from "./queue-sql.ts";
import type { replicaActivity } from "./schema.ts";
import { at, ms, statement } from "./sql.ts";

/** A row of `selectActivity`: the report's `at` as epoch ms, the rest of it as stored. */
export type ActivityRow = Omit<typeof replicaActivity.$inferSelect, "at"> & { at: number };

/** How long a report is kept: replicas get a new name at each start, so the dead ones' rows go. */
const KEPT = "1 hour";

/**
 * Stores a replica's report, replacing its previous one: [replica, at (ms), report (JSON, without
 * replica and at)]. Every replica runs it every second, so it also deletes the rows of replicas
 * silent for an hour (a few rows at most, after restarts), instead of leaving that to a job. The
 * delete skips rows another replica's upsert or delete holds (`SKIP LOCKED`): a publication never
 * waits on another, and what it skips the next one deletes. Its own row it never deletes, even if
 * stale (a replica paused for an hour): PostgreSQL leaves the outcome of changing one row twice in
 * one statement unspecified.
 * Cutoff on the publisher's clock, as readers filter `at` on theirs. A slow publication can land
 * after the next one (they are not serialised) and set an older report: the next second fixes it.
 */
export const upsertActivity = statement(
  "upsert_activity",
  `WITH stale AS (
     DELETE FROM replica_activity WHERE replica IN (
       SELECT replica FROM replica_activity
       WHERE at < ${at("$2")} - interval '${KEPT}' AND replica <> $1
       FOR UPDATE SKIP LOCKED))
   INSERT INTO replica_activity (replica, at, report) VALUES ($1, ${at("$2")}, $3::jsonb)
   ON CONFLICT (replica) DO UPDATE SET at = excluded.at, report = excluded.report`,
);

/** The reports published at or after a time: [since (ms)]. Rows: ActivityRow. */
export const selectActivity = statement(
  "select_activity",
  `SELECT replica, ${ms("at")} AS "at", report FROM replica_activity WHERE at >= ${at("$1")}`,
);

/**
 * Up to `limit` failed orders, newest first: [limit]. With failures rare, reads orders_status_seq_idx
 * backwards from the end of its 'failed' range: `limit` entries however many orders there are;
 * when they are common, the planner walks the primary key backwards instead, skipping the few
 * others (figures of both plans: docs/PERFORMANCE.md).
 */
export const selectRecentFailures = statement(
  "select_recent_failures",
  `SELECT ${ORDER_COLUMNS} FROM orders WHERE status = 'failed' ORDER BY orders.seq DESC LIMIT $1`,
);
