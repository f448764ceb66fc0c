/**
 * The webhook SQL of the PostgreSQL adapter, named statements like queue-sql.ts: subscriptions, and
 * the outbox of deliveries that the `order_events_outbox` trigger fills
 * (drizzle/postgres/0003_webhooks.sql). Senders of several replicas share the outbox: a claim
 * picks due rows with `FOR UPDATE SKIP LOCKED` and leases them; every write after a claim is fenced
 * by `claimed_by = <owner> AND status = 'pending'`, so an attempt whose lease ran out (and whose
 * delivery another sender claimed) changes nothing. Nothing ever releases claims wholesale, not
 * even at start-up: other replicas are alive, and an expired lease is what makes a row due again.
 */
import type { DeliveryClaim } from "../../records/webhook.ts";
import { EVENT_COLUMNS } from "./events-sql.ts";
import { at, ms, statement } from "./sql.ts";

const WEBHOOK_COLUMNS = `id, url, secret, event_types AS "eventTypes", ${ms("created_at")} AS "createdAt"`;

/** The columns of a delivery as the port speaks them (times as epoch ms, the claim left out). */
const deliveryColumns = (d: string) => `${d}.seq::float8 AS "seq", ${d}.webhook_id AS "webhookId",
  ${d}.event_seq::float8 AS "eventSeq", ${d}.status, ${d}.attempts,
  ${ms(`${d}.next_attempt_at`)} AS "nextAttemptAt", ${d}.last_error AS "lastError",
  ${d}.last_status AS "lastStatus", ${ms(`${d}.delivered_at`)} AS "deliveredAt",
  ${ms(`${d}.created_at`)} AS "createdAt"`;

/** A new subscription: [id, url, secret, eventTypes (null: all), createdAt (ms)]. */
export const insertWebhook = statement(
  "insert_webhook",
  `INSERT INTO webhooks (id, url, secret, event_types, created_at)
   SELECT $1, $2, $3, $4::text[], ${at("$5")} WHERE (SELECT count(*) FROM webhooks) < $6::int
   RETURNING id`,
);

/**
 * Serialises the creates of subscriptions across replicas for the rest of the transaction, so that
 * the count in insertWebhook (a statement after it, with a snapshot taken after the lock) is exact.
 */
export const lockWebhookCreates = statement("lock_webhook_creates", "SELECT pg_advisory_xact_lock(4201130)");

/** Up to [limit] subscriptions after [created_at (ms), id] (null: from the start), oldest first. */
export const selectWebhooks = statement(
  "select_webhooks",
  `SELECT ${WEBHOOK_COLUMNS} FROM webhooks
   WHERE $1::float8 IS NULL OR (created_at, id) > (${at("$1")}, $2::text)
   ORDER BY created_at, id LIMIT $3::int`,
);

/** One subscription: [id]. */
export const selectWebhook = statement(
  "select_webhook",
  `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`,
);

/**
 * Deletes a subscription: [id]; returns it if it existed. First of deleteWebhook's two statements:
 * the row lock it takes waits for the transactions whose outbox trigger read the subscription
 * (FOR KEY SHARE) to commit, so the next statement, with a snapshot of its own, sees their rows.
 */
export const deleteWebhookRow = statement(
  "delete_webhook",
  "DELETE FROM webhooks WHERE id = $1 RETURNING id",
);

/** Deletes a subscription's deliveries: [id]. Second of deleteWebhook's statements. */
export const deleteDeliveriesOf = statement(
  "delete_deliveries_of",
  "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
);

/** A subscription's deliveries after a seq, oldest first: [webhookId, afterSeq, limit, status or null]. */
export const selectDeliveries = statement(
  "select_deliveries",
  `SELECT ${deliveryColumns("d")} FROM webhook_deliveries d
   WHERE d.webhook_id = $1 AND d.seq > $2 AND ($4::text IS NULL OR d.status = $4)
   ORDER BY d.seq LIMIT $3`,
);

/**
 * Claims up to `limit` due deliveries, oldest first across subscriptions, with what sending needs
 * (the subscription's url and secret, the event as the event reads return it, under `event`):
 * [owner, limit, now (ms), leaseUntil (ms), perLimit, held (jsonb: subscription id -> count)], of
 * each subscription at most perLimit less what the owner holds of it. One round trip.
 *
 * Each subscription's lookup reads webhook_deliveries_subscription_due_idx in order (a full one,
 * LIMIT 0, reads nothing of its backlog), passes over rows whose lease still runs (in flight
 * elsewhere) and skips rows another transaction holds (a concurrent claim of another replica), as
 * the claim over all subscriptions did. Each lookup locks the rows it returns (at most `limit`) and
 * the outer LIMIT keeps the oldest of them all: the others stay locked until this statement
 * commits, so a claim of another replica running at that moment skips them (the next takes them).
 *
 * The subscription is matched as `= ANY (ARRAY[w.id])` and leads the ORDER BY. With `= w.id` the
 * planner drops it from the ORDER BY as a constant and may then prefer webhook_deliveries_due_idx,
 * read in order and filtered by subscription (it takes each subscription's rows to be spread
 * evenly): it did, on an outbox whose oldest 100,000 rows were one full subscription's, and read
 * them all for each of the others. An array of one is still an equality to the index scan, which
 * stops where the due rows end, and only the new index gives the order asked for
 * (test/storage-postgres.test.ts checks the plan).
 */
const claimStatement = statement(
  "claim_deliveries",
  `WITH claimed AS (
     UPDATE webhook_deliveries SET claimed_by = $1, lease_until = ${at("$4")}
     WHERE seq IN (
       SELECT c.seq FROM webhooks w
       CROSS JOIN LATERAL (
         SELECT d.seq, d.next_attempt_at FROM webhook_deliveries d
         WHERE d.webhook_id = ANY (ARRAY[w.id]) AND d.status = 'pending'
           AND d.next_attempt_at <= ${at("$3")} AND (d.lease_until IS NULL OR d.lease_until < ${at("$3")})
         ORDER BY d.webhook_id, d.next_attempt_at, d.seq
         LIMIT least($2::int, greatest(0, $5::int - coalesce(($6::jsonb ->> w.id)::int, 0)))
         FOR UPDATE SKIP LOCKED) c
       ORDER BY c.next_attempt_at, c.seq LIMIT $2)
     RETURNING *)
   SELECT ${deliveryColumns("d")}, w.url, w.secret, to_json(ev) AS "event", o.trace_parent AS "traceParent"
   FROM claimed d
   JOIN webhooks w ON w.id = d.webhook_id
   JOIN order_events e ON e.seq = d.event_seq
   JOIN orders o ON o.seq = e.order_seq
   CROSS JOIN LATERAL (SELECT ${EVENT_COLUMNS}) AS ev
   ORDER BY d.next_attempt_at, d.seq`,
);

/** The claim of `claim`; without a bound per subscription each may take all of `limit` (one statement). */
export function claimDeliveries(claim: DeliveryClaim) {
  const { owner, limit, now, leaseUntil } = claim;
  const { limit: each, held } = claim.perSubscription ?? { limit, held: {} };
  return claimStatement([owner, limit, now, leaseUntil, each, JSON.stringify(held)]);
}

/**
 * Extends the leases of these deliveries, each while its owner holds it: [seqs, owners, until
 * (ms)]. Returns the seqs renewed. Locks in seq order, like every statement that locks several.
 */
export const renewDeliveryLeases = statement(
  "renew_delivery_leases",
  `WITH held AS (
     SELECT d.seq FROM webhook_deliveries d JOIN unnest($1::bigint[], $2::text[]) AS h(seq, owner)
       ON d.seq = h.seq AND d.claimed_by = h.owner
     WHERE d.status = 'pending' ORDER BY d.seq FOR UPDATE OF d)
   UPDATE webhook_deliveries SET lease_until = ${at("$3")}
   FROM held WHERE webhook_deliveries.seq = held.seq
   RETURNING webhook_deliveries.seq::float8 AS "seq"`,
);

/**
 * Records attempts' outcomes, fenced by the claim: [seqs, owners, kinds ('delivered' | 'retry' |
 * 'dead'), ats (ms), nextAttemptAts (ms, retries), errors, statuses]. Every attempt counts; a retry
 * stays pending, due at its next attempt; a delivered one keeps its last error. All three kinds in
 * one statement, so a batch of outcomes is one round trip. (Two outcomes for one claim would update
 * the row once, with either: a sender records each attempt once.)
 */
export const settleDeliveries = statement(
  "settle_deliveries",
  `UPDATE webhook_deliveries d SET
     status = CASE s.kind WHEN 'retry' THEN 'pending' ELSE s.kind END,
     attempts = d.attempts + 1,
     next_attempt_at = CASE WHEN s.kind = 'retry' THEN ${at("s.next_at")} ELSE d.next_attempt_at END,
     delivered_at = CASE WHEN s.kind = 'delivered' THEN ${at("s.at")} ELSE d.delivered_at END,
     last_error = CASE WHEN s.kind = 'delivered' THEN d.last_error ELSE s.error END,
     last_status = s.status, claimed_by = NULL, lease_until = NULL
   FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::int[])
     AS s(seq, owner, kind, at, next_at, error, status)
   WHERE d.seq = s.seq AND d.claimed_by = s.owner AND d.status = 'pending'`,
);

/**
 * A dead or delivered delivery of this subscription back to pending, due now, attempts 0, claim
 * cleared: [webhookId, seq, now (ms)]. Returns it; a pending one comes back unchanged; no row if the
 * subscription has no such delivery.
 */
export const redeliver = statement(
  "redeliver",
  `WITH redelivered AS (
     UPDATE webhook_deliveries d SET status = 'pending', attempts = 0, next_attempt_at = ${at("$3")},
       claimed_by = NULL, lease_until = NULL
     WHERE d.webhook_id = $1 AND d.seq = $2 AND d.status IN ('dead', 'delivered')
     RETURNING d.*)
   SELECT ${deliveryColumns("r")} FROM redelivered r
   UNION ALL
   SELECT ${deliveryColumns("d")} FROM webhook_deliveries d
   WHERE d.webhook_id = $1 AND d.seq = $2 AND NOT EXISTS (SELECT FROM redelivered)`,
);

/** Each subscription's pending deliveries: how many, and when the oldest one's event was committed (ms). */
export const backlogs = statement(
  "webhook_backlogs",
  `SELECT webhook_id AS "webhookId", count(*)::float8 AS "pending", ${ms("min(created_at)")} AS "oldestAt"
   FROM webhook_deliveries WHERE status = 'pending' GROUP BY webhook_id`,
);

/** When the earliest pending delivery falls due (ms), or null; read off the partial index. */
export const nextDeliveryAt = statement(
  "next_delivery_at",
  `SELECT ${ms("min(next_attempt_at)")} AS "at" FROM webhook_deliveries WHERE status = 'pending'`,
);
