/**
 * All queue SQL of the PostgreSQL adapter, one named (prepared) statement each, taking arrays so
 * that one statement records a whole pump's results. Locking: a claim picks due rows with
 * `FOR UPDATE SKIP LOCKED`, so replicas claiming at once never wait on or double-claim a row, and a
 * cancel (an UPDATE guarded by `status = 'pending'`) either locks the row first (the claim skips
 * it) or waits for the claim's commit and then finds it no longer pending. Every write after a
 * claim is fenced by `claimed_by = <owner>`: a rescue clears it, so a late result from a replica
 * that lost its lease changes nothing.
 *
 * Every transition inserts its event into `order_events` in the same statement (a data-modifying
 * CTE), so the event commits with the transition and a batch stays one round trip; events-sql.ts
 * explains the stream key `tx_id` that they get by default, and the one exception (the claim).
 */
import type { ClaimRequest, NewOrder, Settlement } from "../../order.ts";
import { ms, statement } from "./sql.ts";

/** The columns of an order as the ports speak them (times as epoch ms). */
export const ORDER_COLUMNS = `seq::float8 AS "seq", order_id AS "orderId", user_id AS "userId",
  item_ids AS "itemIds", total_cents::float8 AS "totalCents", status, ${ms("created_at")} AS "createdAt",
  ${ms("started_at")} AS "startedAt", ${ms("completed_at")} AS "completedAt", attempts,
  last_error AS "lastError"`;

const INSERT_EVENTS =
  "INSERT INTO order_events (order_seq, type, from_status, to_status, attempt, at, details)";

const insertOrdersStatement = statement(
  "insert_orders",
  `WITH created AS (
     INSERT INTO orders (order_id, user_id, item_ids, total_cents, status, created_at, run_at)
     SELECT o, u, i, t, 'pending', to_timestamp(c / 1000.0), to_timestamp(c / 1000.0)
     FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::float8[]) AS x(o, u, i, t, c)
     ON CONFLICT (order_id) DO NOTHING
     RETURNING seq, order_id, created_at),
   events AS (
     ${INSERT_EVENTS}
     SELECT seq, 'created', NULL, 'pending', 0, created_at, NULL FROM created ORDER BY seq)
   SELECT order_id AS "orderId" FROM created`,
);

/**
 * New orders, due at once, each with its `created` event, as one multi-row statement (a column
 * array each). Returns the ids inserted (an existing order_id is skipped).
 */
export const insertOrders = (orders: NewOrder[]) =>
  insertOrdersStatement([
    orders.map((o) => o.orderId),
    orders.map((o) => o.userId),
    orders.map((o) => JSON.stringify(o.itemIds)),
    orders.map((o) => o.totalCents),
    orders.map((o) => o.createdAt),
  ]);

/** The orders with these ids: [orderIds]. */
export const selectOrders = statement(
  "select_orders",
  `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = ANY($1::text[])`,
);

/** pending -> cancelled: [orderId, now (ms)]. Returns the order if it changed. */
export const cancelPending = statement(
  "cancel_pending",
  `WITH cancelled AS (
     UPDATE orders SET status = 'cancelled' WHERE order_id = $1 AND status = 'pending' RETURNING *),
   events AS (
     ${INSERT_EVENTS}
     SELECT seq, 'cancelled', 'pending', 'cancelled', attempts, to_timestamp($2::float8 / 1000), NULL
     FROM cancelled)
   SELECT ${ORDER_COLUMNS} FROM cancelled`,
);

/**
 * An operator's retry, failed -> pending, due now, attempts back to 0: [orderId, now (ms)]. Returns
 * the order if it changed. The old row is read `FOR UPDATE` (its attempts go into the event): a
 * concurrent change makes it wait, then re-check `status = 'failed'` on the new version.
 */
export const retryFailed = statement(
  "retry_failed",
  `WITH old AS (
     SELECT seq, attempts FROM orders WHERE order_id = $1 AND status = 'failed' FOR UPDATE),
   retried AS (
     UPDATE orders SET status = 'pending', attempts = 0, run_at = to_timestamp($2::float8 / 1000)
     FROM old WHERE orders.seq = old.seq
     RETURNING orders.*, old.attempts AS previous_attempts),
   events AS (
     ${INSERT_EVENTS}
     SELECT seq, 'retried', 'failed', 'pending', attempts, to_timestamp($2::float8 / 1000),
       jsonb_build_object('previous_attempts', previous_attempts)
     FROM retried)
   SELECT ${ORDER_COLUMNS} FROM retried`,
);

const pumpStatement = statement(
  "orders_pump",
  `SELECT ${ORDER_COLUMNS}, ${ms("run_at")} AS "runAt", claimed_by AS "owner"
   FROM orders_pump($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::float8[], $6::text[],
     $7::bigint[], $8::text[], $9::text[], $10::text[], $11::int[], $12::float8, $13::float8)`,
);

/**
 * One pump (orders_pump, drizzle/postgres/0007_lease_lock_order.sql): records the settlements,
 * then claims for each request, the function's arguments a column array each. Returns the claimed
 * orders with their owner.
 */
export function pump(args: {
  settlements: Settlement[];
  claims: ClaimRequest[];
  now: number;
  leaseUntil: number;
}) {
  const { settlements, claims, now, leaseUntil } = args;
  const done = settlements.filter((s) => s.kind === "completed");
  const retried = settlements.filter((s) => s.kind === "retry");
  const failed = settlements.filter((s) => s.kind === "failed");
  return pumpStatement([
    done.map((s) => s.seq),
    done.map((s) => s.owner),
    retried.map((s) => s.seq),
    retried.map((s) => s.owner),
    retried.map((s) => s.runAt),
    retried.map((s) => s.error),
    failed.map((s) => s.seq),
    failed.map((s) => s.owner),
    failed.map((s) => s.error),
    claims.map((c) => c.owner),
    claims.map((c) => c.limit),
    now,
    leaseUntil,
  ]);
}

/** When the earliest pending order becomes due (ms), or null. */
export const nextDue = statement(
  "next_due",
  `SELECT ${ms("min(run_at)")} AS "runAt" FROM orders WHERE status = 'pending'`,
);

/**
 * Puts what `owner` holds back to pending, due now: [owner, now (ms)]. Row count: how many. Locks
 * the rows in seq order first (the lock order of drizzle/postgres/0007).
 */
export const releaseOwner = statement(
  "release_owner",
  `WITH held AS (
     SELECT seq FROM orders WHERE status = 'processing' AND claimed_by = $1::text ORDER BY seq FOR UPDATE),
   released AS (
     UPDATE orders SET status = 'pending', run_at = to_timestamp($2::float8 / 1000), claimed_by = NULL,
       lease_until = NULL
     FROM held WHERE orders.seq = held.seq AND orders.status = 'processing' AND orders.claimed_by = $1::text
     RETURNING orders.seq, orders.attempts)
   ${INSERT_EVENTS}
   SELECT seq, 'released', 'processing', 'pending', attempts, to_timestamp($2::float8 / 1000),
     '{"reason": "worker_stopped"}'::jsonb
   FROM released ORDER BY seq`,
);

/**
 * Rescue: puts every order whose lease ended back to pending, due now: [now (ms)]. Row count: how
 * many. SKIP LOCKED, in seq order: a row another transaction holds is being renewed, settled or
 * rescued by someone else right now; this rescue never waits on it (two replicas rescuing at once
 * deadlocked when each locked the expired rows in the order of its own plan).
 */
export const releaseExpired = statement(
  "release_expired",
  `WITH expired AS (
     SELECT seq FROM orders WHERE status = 'processing' AND lease_until < to_timestamp($1::float8 / 1000)
     ORDER BY seq FOR UPDATE SKIP LOCKED),
   released AS (
     UPDATE orders SET status = 'pending', run_at = to_timestamp($1::float8 / 1000), claimed_by = NULL,
       lease_until = NULL
     FROM expired WHERE orders.seq = expired.seq AND orders.status = 'processing'
     RETURNING orders.seq, orders.attempts)
   ${INSERT_EVENTS}
   SELECT seq, 'released', 'processing', 'pending', attempts, to_timestamp($1::float8 / 1000),
     '{"reason": "lease_expired"}'::jsonb
   FROM released ORDER BY seq`,
);

/**
 * Extends the leases of these orders, each while its owner holds it: [seqs, owners, until (ms)].
 * Returns the seqs renewed: a listed order missing from them is no longer its owner's (rescued,
 * or settled meanwhile). Locks in seq order, as the pump does, so the two never deadlock.
 */
export const renewLeases = statement(
  "renew_leases",
  `WITH held AS (
     SELECT orders.seq FROM orders JOIN unnest($1::bigint[], $2::text[]) AS h(seq, owner)
       ON orders.seq = h.seq AND orders.claimed_by = h.owner
     WHERE orders.status = 'processing' ORDER BY orders.seq FOR UPDATE OF orders)
   UPDATE orders SET lease_until = to_timestamp($3::float8 / 1000)
   FROM held WHERE orders.seq = held.seq
   RETURNING orders.seq::float8 AS "seq"`,
);

/** Creates every counter row that does not exist yet: [statuses]. */
export const createCounters = statement(
  "create_counters",
  `INSERT INTO order_counts (status, shard, orders, processing_ms)
   SELECT s, shard, 0, 0 FROM unnest($1::text[]) AS s, generate_series(0, 15) AS shard
   ON CONFLICT (status, shard) DO NOTHING`,
);
