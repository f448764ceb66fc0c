/**
 * All queue SQL of the PostgreSQL adapter, one named (prepared) statement each, taking arrays so
 * that one statement records a whole pump's results. Every write applies a transition it is given
 * (src/lifecycle.ts): only while the order is in its `from` status, it moves to its `to` and records
 * its event as given, so no statement here names an event or a status it moves an order to.
 * Locking: a claim picks due rows with `FOR UPDATE SKIP LOCKED`, so replicas claiming at once never
 * wait on or double-claim a row, and a change by id (an UPDATE guarded by the order's status)
 * either locks the row first (the claim skips it) or waits for the claim's commit and then finds
 * it no longer in that status. Every write after a claim is fenced by `claimed_by = <owner>`: a
 * rescue clears it, so a late result from a replica that lost its lease changes nothing.
 *
 * Every transition inserts its event into `order_events` in the same statement (a data-modifying
 * CTE), so the event commits with the transition and a batch stays one round trip; events-sql.ts
 * explains the stream key `tx_id` that they get by default, and the one exception (the claim).
 */
import type { NewOrder, OrderChange, Transition } from "../../records/order.ts";
import type { ClaimRequest, Settlement, StepRecord } from "../../records/queue.ts";
import { at, ms, statement } from "./sql.ts";

/** The columns of an order as the ports speak them (times as epoch ms). */
export const ORDER_COLUMNS = `seq::float8 AS "seq", order_id AS "orderId", user_id AS "userId",
  item_ids AS "itemIds", currency, total_minor::float8 AS "totalMinor", cart, status, ${ms("created_at")} AS "createdAt",
  ${ms("started_at")} AS "startedAt", ${ms("completed_at")} AS "completedAt", attempts,
  last_error AS "lastError", coalesce(steps, '[]'::jsonb) AS steps,
  ${ms("cancel_requested_at")} AS "cancelRequestedAt", trace_parent AS "traceParent"`;

const INSERT_EVENTS =
  "INSERT INTO order_events (order_seq, type, from_status, to_status, attempt, at, details)";

/** A transition's details as a jsonb parameter (null stays SQL NULL, not JSON null). */
const json = (details: Transition["details"]) => (details === null ? null : JSON.stringify(details));

const insertOrdersStatement = statement(
  "insert_orders",
  `WITH input AS (
     SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::float8[], $6::text[],
       $7::text[], $8::text[], $9::jsonb[], $10::text[], $11::jsonb[], $12::text[])
       AS x(o, u, i, t, c, type, from_status, to_status, details, cur, cart, tp)),
   inserted AS (
     INSERT INTO orders (order_id, user_id, item_ids, currency, total_minor, cart, status, created_at, run_at,
       trace_parent)
     SELECT o, u, i, cur, t, cart, to_status, to_timestamp(c / 1000.0), to_timestamp(c / 1000.0), tp FROM input
     ON CONFLICT (order_id) DO NOTHING
     RETURNING seq, order_id, status, attempts, created_at),
   events AS (
     ${INSERT_EVENTS}
     SELECT n.seq, x.type, x.from_status, n.status, n.attempts, n.created_at, x.details
     FROM inserted n JOIN input x ON x.o = n.order_id ORDER BY n.seq)
   SELECT order_id AS "orderId" FROM inserted`,
);

/**
 * New orders, due at once, each in its transition's `to` with its event, as one multi-row
 * statement (a column array each; the transition per row, so a batch may mix them). The ids must
 * be distinct (an event joins its order by id). Returns the ids inserted (an existing order_id is
 * skipped).
 */
export const insertOrders = (creates: { order: NewOrder; created: Transition }[]) =>
  insertOrdersStatement([
    creates.map((c) => c.order.orderId),
    creates.map((c) => c.order.userId),
    creates.map((c) => JSON.stringify(c.order.itemIds)),
    creates.map((c) => c.order.totalMinor),
    creates.map((c) => c.order.createdAt),
    creates.map((c) => c.created.type),
    creates.map((c) => c.created.from),
    creates.map((c) => c.created.to),
    creates.map((c) => json(c.created.details)),
    creates.map((c) => c.order.currency),
    creates.map((c) => (c.order.cart === null ? null : JSON.stringify(c.order.cart))),
    creates.map((c) => c.order.traceParent ?? null),
  ]);

/** The orders with these ids: [orderIds]. */
export const selectOrders = statement(
  "select_orders",
  `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = ANY($1::text[])`,
);

const changeOrderStatement = statement(
  "change_order",
  `WITH changed AS (
     UPDATE orders SET status = $3::text, run_at = coalesce(${at("$7")}, run_at),
       attempts = coalesce($8::int, attempts),
       cancel_requested_at = coalesce(${at("$10")}, cancel_requested_at)
     WHERE order_id = $1 AND status = $2::text AND ($9::int IS NULL OR attempts = $9::int)
     RETURNING *),
   events AS (
     ${INSERT_EVENTS}
     SELECT seq, $4::text, $2::text, $3::text, attempts, ${at("$6")}, $5::jsonb FROM changed)
   SELECT ${ORDER_COLUMNS} FROM changed`,
);

/**
 * Applies `change` to the order `orderId` with its event at `now`, if the order is in the
 * transition's `from` (and has `ifAttempts` attempts, when set): one UPDATE, so a concurrent change
 * makes it wait and then re-check both on the new version. Returns the order if it changed.
 */
export const changeOrder = (orderId: string, change: OrderChange, now: number) => {
  const { transition: t } = change;
  return changeOrderStatement([
    orderId,
    t.from,
    t.to,
    t.type,
    json(t.details),
    now,
    change.runAt ?? null,
    change.attempts ?? null,
    change.ifAttempts ?? null,
    change.cancelRequestedAt ?? null,
  ]);
};

const pumpStatement = statement(
  "orders_settle_and_claim",
  `SELECT ${ORDER_COLUMNS}, ${ms("run_at")} AS "runAt"
   FROM orders_settle_and_claim($1::bigint[], $2::text[], $3::text[], $4::text[], $5::float8[],
     $6::text[], $7::float8[], $8::text[], $9::jsonb[], $10::text[], $11::jsonb[], $12::text, $13::text,
     $14::text, $15::float8, $16::float8)`,
);

/**
 * One pump (orders_settle_and_claim, drizzle/postgres/0008_apply_transitions.sql): records the
 * settlements, then claims one order per request, the function's arguments a column array each
 * (an unset column of a settlement is NULL: kept). Returns the claimed orders with their `runAt`,
 * by which the n-th oldest answers the n-th request. The requests share one transition but for
 * its details (the port's contract); a call that breaks it is refused rather than half-applied.
 */
export function pump(args: {
  settlements: Settlement[];
  claims: ClaimRequest[];
  now: number;
  leaseUntil: number;
}) {
  const { settlements, claims, now, leaseUntil } = args;
  const claim = claims[0]?.transition;
  const same = (t: Transition) => t.type === claim?.type && t.from === claim.from && t.to === claim.to;
  if (!claims.every((c) => same(c.transition))) throw new Error("claims of one pump differ in transition");
  return pumpStatement([
    settlements.map((s) => s.seq),
    settlements.map((s) => s.owner),
    settlements.map((s) => s.transition.from),
    settlements.map((s) => s.transition.to),
    settlements.map((s) => s.runAt ?? null),
    settlements.map((s) => s.lastError ?? null),
    settlements.map((s) => s.completedAt ?? null),
    settlements.map((s) => s.transition.type),
    settlements.map((s) => json(s.transition.details)),
    claims.map((c) => c.owner),
    claims.map((c) => json(c.transition.details)),
    claim?.type ?? null,
    claim?.from ?? null,
    claim?.to ?? null,
    now,
    leaseUntil,
  ]);
}

/**
 * When the earliest pending order becomes due (ms), or null: the port's question, off the
 * partial index `orders_due_idx`, whose predicate a parameter could not match (0008 explains).
 */
export const nextDue = statement(
  "next_due",
  `SELECT ${ms("min(run_at)")} AS "runAt" FROM orders WHERE status = 'pending'`,
);

/** A release's last four parameters: its transition's from, to, type and details. */
const transitionValues = (t: Transition) => [t.from, t.to, t.type, json(t.details)];

const releaseOwnerStatement = statement(
  "release_owner",
  `WITH held AS (
     SELECT seq FROM orders WHERE status = $3::text AND claimed_by = $1::text ORDER BY seq FOR UPDATE),
   moved AS (
     UPDATE orders SET status = $4::text, run_at = ${at("$2")}, claimed_by = NULL, lease_until = NULL
     FROM held WHERE orders.seq = held.seq AND orders.status = $3::text AND orders.claimed_by = $1::text
     RETURNING orders.seq, orders.attempts)
   ${INSERT_EVENTS}
   SELECT seq, $5::text, $3::text, $4::text, attempts, ${at("$2")}, $6::jsonb FROM moved ORDER BY seq`,
);

/**
 * Applies `released` to what `owner` holds, due now, ending the hold. Row count: how many. Locks
 * the rows in seq order first (the lock order of drizzle/postgres/0007).
 */
export const releaseOwner = (args: { owner: string; now: number; released: Transition }) =>
  releaseOwnerStatement([args.owner, args.now, ...transitionValues(args.released)]);

const releaseExpiredStatement = statement(
  "release_expired",
  `WITH expired AS (
     SELECT seq FROM orders WHERE status = $2::text AND lease_until < ${at("$1")}
     ORDER BY seq FOR UPDATE SKIP LOCKED),
   moved AS (
     UPDATE orders SET status = $3::text, run_at = ${at("$1")}, claimed_by = NULL, lease_until = NULL
     FROM expired WHERE orders.seq = expired.seq AND orders.status = $2::text
     RETURNING orders.seq, orders.attempts)
   ${INSERT_EVENTS}
   SELECT seq, $4::text, $2::text, $3::text, attempts, ${at("$1")}, $5::jsonb FROM moved ORDER BY seq`,
);

/**
 * Rescue: applies `released` to every held order whose lease ended, due now. Row count: how many.
 * SKIP LOCKED, in seq order: a row another transaction holds is being renewed, settled or rescued
 * by someone else right now; this rescue never waits on it (two replicas rescuing at once
 * deadlocked when each locked the expired rows in the order of its own plan). Sent with its values
 * inlined (deadline.ts), so the planner sees the `from` status and can read the expired leases off
 * the partial index `orders_lease_idx`.
 */
export const releaseExpired = (args: { now: number; released: Transition }) =>
  releaseExpiredStatement([args.now, ...transitionValues(args.released)]);

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

const recordStepsStatement = statement(
  "record_steps",
  `WITH input AS (
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[])
       AS x(seq, owner, from_status, to_status, type, details, step)),
   held AS (
     SELECT orders.seq FROM orders JOIN input ON orders.seq = input.seq AND orders.claimed_by = input.owner
       AND orders.status = input.from_status
     ORDER BY orders.seq FOR UPDATE OF orders),
   appended AS (
     UPDATE orders SET steps = coalesce(orders.steps, '[]'::jsonb) || jsonb_build_array(input.step)
     FROM held JOIN input USING (seq) WHERE orders.seq = held.seq
     RETURNING orders.seq, orders.attempts, input.type, input.from_status, input.to_status, input.details),
   events AS (
     ${INSERT_EVENTS}
     SELECT seq, type, from_status, to_status, attempts, ${at("$8")}, details FROM appended ORDER BY seq)
   SELECT seq::float8 AS "seq" FROM appended`,
);

/**
 * Appends each record's step to its order's steps with its event at `now`, where its owner still
 * holds the order in the transition's `from`; the hold stays. Returns the seqs recorded. Locks in
 * seq order, as the pump and the renewals do, so none of them deadlock. The status does not
 * change, so the counters' trigger writes nothing.
 */
export const recordSteps = (records: StepRecord[], now: number) =>
  recordStepsStatement([
    records.map((r) => r.seq),
    records.map((r) => r.owner),
    records.map((r) => r.transition.from),
    records.map((r) => r.transition.to),
    records.map((r) => r.transition.type),
    records.map((r) => json(r.transition.details)),
    records.map((r) => JSON.stringify(r.step)),
    now,
  ]);

/** Creates every counter row that does not exist yet: [statuses]. */
export const createCounters = statement(
  "create_counters",
  `INSERT INTO order_counts (status, shard, orders, processing_ms)
   SELECT s, shard, 0, 0 FROM unnest($1::text[]) AS s, generate_series(0, 15) AS shard
   ON CONFLICT (status, shard) DO NOTHING`,
);
