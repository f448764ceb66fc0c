/**
 * All queue SQL of the PostgreSQL adapter, one named (prepared) statement each, taking arrays so
 * that one statement records a whole pump's results. Locking: a claim picks due rows with
 * `FOR UPDATE SKIP LOCKED`, so replicas claiming at once never wait on or double-claim a row, and a
 * cancel (an UPDATE guarded by `status = 'pending'`) either locks the row first (the claim skips
 * it) or waits for the claim's commit and then finds it no longer pending. Every write after a
 * claim is fenced by `claimed_by = <owner>`: a rescue clears it, so a late result from a replica
 * that lost its lease changes nothing.
 */
import type pg from "pg";

const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

/** The columns of an order as the ports speak them (times as epoch ms). */
export const ORDER_COLUMNS = `seq::float8 AS "seq", order_id AS "orderId", user_id AS "userId",
  item_ids AS "itemIds", total_cents::float8 AS "totalCents", status, ${ms("created_at")} AS "createdAt",
  ${ms("started_at")} AS "startedAt", ${ms("completed_at")} AS "completedAt", attempts,
  last_error AS "lastError"`;

/** A named statement: prepared once per connection by `pg`. */
const statement =
  (name: string, text: string) =>
  (values: unknown[]): pg.QueryConfig => ({ name, text, values });

/** New orders, due at once: [orderIds, userIds, itemIds (JSON), totalCents, createdAt (ms)]. */
export const insertOrders = statement(
  "insert_orders",
  `INSERT INTO orders (order_id, user_id, item_ids, total_cents, status, created_at, run_at)
   SELECT o, u, i, t, 'pending', to_timestamp(c / 1000.0), to_timestamp(c / 1000.0)
   FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::float8[]) AS x(o, u, i, t, c)
   ON CONFLICT (order_id) DO NOTHING
   RETURNING order_id AS "orderId"`,
);

/** The orders with these ids: [orderIds]. */
export const selectOrders = statement(
  "select_orders",
  `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = ANY($1::text[])`,
);

/** pending -> cancelled: [orderId]. */
export const cancelPending = statement(
  "cancel_pending",
  `UPDATE orders SET status = 'cancelled' WHERE order_id = $1 AND status = 'pending' RETURNING ${ORDER_COLUMNS}`,
);

/** processing -> completed, fenced: [seqs, owners, now]. */
export const completeOrders = statement(
  "complete_orders",
  `UPDATE orders SET status = 'completed', completed_at = to_timestamp($3 / 1000.0), claimed_by = NULL,
     lease_until = NULL
   FROM unnest($1::bigint[], $2::text[]) AS s(seq, owner)
   WHERE orders.seq = s.seq AND orders.claimed_by = s.owner AND orders.status = 'processing'`,
);

/** processing -> pending after a failed attempt, fenced: [seqs, owners, runAts (ms), errors]. */
export const retryOrders = statement(
  "retry_orders",
  `UPDATE orders SET status = 'pending', run_at = to_timestamp(s.run_at / 1000.0), last_error = s.error,
     claimed_by = NULL, lease_until = NULL
   FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::text[]) AS s(seq, owner, run_at, error)
   WHERE orders.seq = s.seq AND orders.claimed_by = s.owner AND orders.status = 'processing'`,
);

/** processing -> failed, fenced: [seqs, owners, errors]. */
export const failOrders = statement(
  "fail_orders",
  `UPDATE orders SET status = 'failed', last_error = s.error, claimed_by = NULL, lease_until = NULL
   FROM unnest($1::bigint[], $2::text[], $3::text[]) AS s(seq, owner, error)
   WHERE orders.seq = s.seq AND orders.claimed_by = s.owner AND orders.status = 'processing'`,
);

/**
 * Claims up to `limit` due orders, oldest first: [owner, limit, now (ms), leaseUntil (ms)]. The
 * inner SELECT reads the partial index orders_due_idx in order and skips rows another transaction
 * holds (a claim of another replica, or a cancel in flight).
 */
export const claimOrders = statement(
  "claim_orders",
  `UPDATE orders SET status = 'processing', started_at = to_timestamp($3 / 1000.0), attempts = attempts + 1,
     claimed_by = $1, lease_until = to_timestamp($4 / 1000.0)
   WHERE seq IN (
     SELECT seq FROM orders WHERE status = 'pending' AND run_at <= to_timestamp($3 / 1000.0)
     ORDER BY run_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED)
   RETURNING ${ORDER_COLUMNS}, ${ms("run_at")} AS "runAt"`,
);

/** When the earliest pending order becomes due (ms), or null. */
export const nextDue = statement(
  "next_due",
  `SELECT ${ms("min(run_at)")} AS "runAt" FROM orders WHERE status = 'pending'`,
);

/** Puts what `owner` holds back to pending, due now: [owner, now (ms)]. */
export const releaseOwner = statement(
  "release_owner",
  `UPDATE orders SET status = 'pending', run_at = to_timestamp($2 / 1000.0), claimed_by = NULL, lease_until = NULL
   WHERE status = 'processing' AND claimed_by = $1`,
);

/** Rescue: puts every order whose lease ended back to pending, due now: [now (ms)]. */
export const releaseExpired = statement(
  "release_expired",
  `UPDATE orders SET status = 'pending', run_at = to_timestamp($1 / 1000.0), claimed_by = NULL, lease_until = NULL
   WHERE status = 'processing' AND lease_until < to_timestamp($1 / 1000.0)`,
);

/** Extends the leases of these orders, each while its owner holds it: [seqs, owners, until (ms)]. */
export const renewLeases = statement(
  "renew_leases",
  `UPDATE orders SET lease_until = to_timestamp($3 / 1000.0)
   FROM unnest($1::bigint[], $2::text[]) AS h(seq, owner)
   WHERE orders.seq = h.seq AND orders.claimed_by = h.owner AND orders.status = 'processing'`,
);
