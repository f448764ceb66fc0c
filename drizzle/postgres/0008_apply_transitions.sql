-- The pump applies what it is given (issue 20): the lifecycle moved above the storage ports
-- (src/lifecycle.ts), so a settlement or a claim arrives as a transition (its event type, from,
-- to and details) with the columns it sets, and this function names no status, event or detail.
-- One settlement kind per statement becomes one fenced UPDATE for all of them, and the claim loop
-- (one statement per worker slot) becomes one statement: the caller now asks for one order per
-- owner, in slot order, so "fill each slot in turn, oldest due first, stop at the first short one"
-- is "take the oldest due orders, as many as there are owners, and give the n-th to the n-th".
--
-- Lock order as in 0007: the settled orders in seq order, then this backend's counter rows in
-- status order; the claim skips locked rows, so it never waits on an order. (A pump that settles
-- nothing skips the first lock: with an empty array it locks nothing anyway, but a plan cached
-- while the table was small can scan the whole table to find so.)
--
-- The claim is dynamic SQL (EXECUTE) with the `from` status written into its text as a literal. The
-- due orders must be read off the partial index `orders_due_idx`, and the planner uses a partial
-- index only if it can prove the query's condition implies the index's predicate, which it cannot
-- for a parameter whose value it does not know. Static SQL in PL/pgSQL is a cached plan that, after
-- five calls, turns generic (values unknown) whenever the generic plan's estimate is no dearer than
-- the custom plans' so far, and stays so until the table's statistics change. Measured (PostgreSQL
-- 15, 100k due among 500k orders, 32 claims a call): with the status a parameter, a session whose
-- first claims ran on a small table kept a generic plan that read the whole table and sorted it,
-- ~190 ms a claim, against ~2–3 ms with EXECUTE in the same sequence; on a large table from the
-- start the custom plan won every time, so EXECUTE (a fresh plan each call, values known) plans no
-- more often than the static form did there. Static SQL with the status a literal, as 0007 had, is
-- not an option: this function names no status.
--
-- Replicas still running the code of 0007 call `orders_pump`, which is gone: their pumps fail
-- until they are replaced by replicas of this version.
DROP FUNCTION "orders_pump"(
  bigint[], text[], bigint[], text[], float8[], text[], bigint[], text[], text[], text[], int[], float8, float8
);
--> statement-breakpoint
CREATE FUNCTION "orders_settle_and_claim"(
  "p_seqs" bigint[], "p_owners" text[], "p_from" text[], "p_to" text[],
  "p_run_at" float8[], "p_last_error" text[], "p_completed_at" float8[],
  "p_types" text[], "p_details" jsonb[],
  "p_claim_owners" text[], "p_claim_details" jsonb[],
  "p_claim_type" text, "p_claim_from" text, "p_claim_to" text,
  "p_now" float8, "p_lease_until" float8
) RETURNS SETOF "orders" LANGUAGE plpgsql AS $$
DECLARE
  "v_now" timestamptz := to_timestamp("p_now" / 1000);
BEGIN
  IF cardinality("p_seqs") > 0 THEN
    PERFORM 1 FROM "orders" WHERE "seq" = ANY("p_seqs") ORDER BY "seq" FOR UPDATE;
  END IF;
  PERFORM 1 FROM "order_counts" WHERE "shard" = pg_backend_pid() % 16 ORDER BY "status" FOR UPDATE;

  -- Each settlement fenced by its claim (owner and status); a NULL column keeps its value.
  IF cardinality("p_seqs") > 0 THEN
    WITH "settled" AS (
      UPDATE "orders" SET "status" = s."to",
        "run_at" = coalesce(to_timestamp(s."run_at" / 1000), "orders"."run_at"),
        "last_error" = coalesce(s."last_error", "orders"."last_error"),
        "completed_at" = coalesce(to_timestamp(s."completed_at" / 1000), "orders"."completed_at"),
        "claimed_by" = NULL, "lease_until" = NULL
      FROM unnest("p_seqs", "p_owners", "p_from", "p_to", "p_run_at", "p_last_error", "p_completed_at",
          "p_types", "p_details")
        AS s("seq", "owner", "from", "to", "run_at", "last_error", "completed_at", "type", "details")
      WHERE "orders"."seq" = s."seq" AND "orders"."claimed_by" = s."owner" AND "orders"."status" = s."from"
      RETURNING "orders"."seq", "orders"."attempts", s."type", s."from", s."to", s."details")
    INSERT INTO "order_events" ("order_seq", "type", "from_status", "to_status", "attempt", "at", "details")
    SELECT "seq", "type", "from", "to", "attempts", "v_now", "details"
    FROM "settled" ORDER BY "seq";
  END IF;

  IF coalesce(cardinality("p_claim_owners"), 0) = 0 THEN
    RETURN;
  END IF;
  -- The oldest due orders, as many as there are owners, ranked oldest first: rank n goes to the
  -- n-th owner. (A window function cannot share a level with FOR UPDATE, hence the two levels.)
  -- The claim events' stream key: the later of this transaction's id and that of the order's
  -- previous event (events-sql.ts: a claim must not come out of the stream before the event that
  -- made its order claimable).
  RETURN QUERY EXECUTE format($claim$
    WITH "due" AS (
      SELECT d."seq", row_number() OVER (ORDER BY d."run_at", d."seq") AS "rank"
      FROM (
        SELECT "seq", "run_at" FROM "orders" WHERE "status" = %L AND "run_at" <= $1
        ORDER BY "run_at", "seq" LIMIT $2 FOR UPDATE SKIP LOCKED) AS d),
    "taken" AS (
      UPDATE "orders" SET "status" = $4, "started_at" = $1, "attempts" = "orders"."attempts" + 1,
        "claimed_by" = $5["due"."rank"], "lease_until" = to_timestamp($6 / 1000)
      FROM "due" WHERE "orders"."seq" = "due"."seq"
      RETURNING "orders" AS "row", "due"."rank"),
    "events" AS (
      INSERT INTO "order_events" ("order_seq", "tx_id", "type", "from_status", "to_status", "attempt", "at", "details")
      SELECT ("row")."seq",
        greatest(pg_current_xact_id(),
          (SELECT e."tx_id" FROM "order_events" e WHERE e."order_seq" = ("row")."seq" ORDER BY e."seq" DESC LIMIT 1)),
        $7, $3, $4, ("row")."attempts", ("row")."started_at", $8["rank"]
      FROM "taken" ORDER BY "rank")
    SELECT ("row").* FROM "taken"
  $claim$, "p_claim_from")
  USING "v_now", cardinality("p_claim_owners"), "p_claim_from", "p_claim_to", "p_claim_owners",
    "p_lease_until", "p_claim_type", "p_claim_details";
END;
$$;
