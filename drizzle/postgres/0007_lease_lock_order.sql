-- One lock order for every statement that locks several orders (issue 18): `orders` rows first,
-- in `seq` order, then this backend's `order_counts` rows, in status order. Before, the pump locked
-- its counter shard first and the orders it settled in whatever order the plan gave, while the
-- rescue locked orders first and the counters after (through the trigger), and the renewal locked
-- orders in plan order too: pump against renewal and rescue against rescue deadlocked under load.
--
-- The pump keeps its shape (0006) with one change: before anything else it locks the orders it
-- settles, in seq order, then its counter rows. Its claims use SKIP LOCKED, so they never wait on
-- an order, and its settlements touch only rows it has locked already: after the counters it waits
-- for nothing else in `orders`. The renewal, rescue and release statements (queue-sql.ts) lock in
-- seq order too (the rescue with SKIP LOCKED: a row someone holds is not expired business of ours).
CREATE OR REPLACE FUNCTION "orders_pump"(
  "p_done_seqs" bigint[], "p_done_owners" text[],
  "p_retry_seqs" bigint[], "p_retry_owners" text[], "p_retry_run_at" float8[], "p_retry_errors" text[],
  "p_failed_seqs" bigint[], "p_failed_owners" text[], "p_failed_errors" text[],
  "p_claim_owners" text[], "p_claim_limits" int[],
  "p_now" float8, "p_lease_until" float8
) RETURNS SETOF "orders" LANGUAGE plpgsql AS $$
DECLARE
  "v_now" timestamptz := to_timestamp("p_now" / 1000);
  "v_claimed" bigint;
BEGIN
  PERFORM 1 FROM "orders" WHERE "seq" = ANY("p_done_seqs" || "p_retry_seqs" || "p_failed_seqs")
  ORDER BY "seq" FOR UPDATE;
  PERFORM 1 FROM "order_counts" WHERE "shard" = pg_backend_pid() % 16 ORDER BY "status" FOR UPDATE;

  IF cardinality("p_done_seqs") > 0 THEN
    WITH "completed" AS (
      UPDATE "orders" SET "status" = 'completed', "completed_at" = "v_now", "claimed_by" = NULL,
        "lease_until" = NULL
      FROM unnest("p_done_seqs", "p_done_owners") AS s("seq", "owner")
      WHERE "orders"."seq" = s."seq" AND "orders"."claimed_by" = s."owner" AND "orders"."status" = 'processing'
      RETURNING "orders"."seq", "orders"."attempts")
    INSERT INTO "order_events" ("order_seq", "type", "from_status", "to_status", "attempt", "at", "details")
    SELECT "seq", 'completed', 'processing', 'completed', "attempts", "v_now", NULL
    FROM "completed" ORDER BY "seq";
  END IF;

  IF cardinality("p_retry_seqs") > 0 THEN
    WITH "retried" AS (
      UPDATE "orders" SET "status" = 'pending', "run_at" = to_timestamp(s."run_at" / 1000),
        "last_error" = s."error", "claimed_by" = NULL, "lease_until" = NULL
      FROM unnest("p_retry_seqs", "p_retry_owners", "p_retry_run_at", "p_retry_errors")
        AS s("seq", "owner", "run_at", "error")
      WHERE "orders"."seq" = s."seq" AND "orders"."claimed_by" = s."owner" AND "orders"."status" = 'processing'
      RETURNING "orders"."seq", "orders"."attempts", s."run_at", s."error")
    INSERT INTO "order_events" ("order_seq", "type", "from_status", "to_status", "attempt", "at", "details")
    SELECT "seq", 'attempt_failed', 'processing', 'pending', "attempts", "v_now",
      jsonb_build_object('error', "error", 'backoff_ms', "run_at" - "p_now")
    FROM "retried" ORDER BY "seq";
  END IF;

  IF cardinality("p_failed_seqs") > 0 THEN
    WITH "failed" AS (
      UPDATE "orders" SET "status" = 'failed', "last_error" = s."error", "claimed_by" = NULL,
        "lease_until" = NULL
      FROM unnest("p_failed_seqs", "p_failed_owners", "p_failed_errors") AS s("seq", "owner", "error")
      WHERE "orders"."seq" = s."seq" AND "orders"."claimed_by" = s."owner" AND "orders"."status" = 'processing'
      RETURNING "orders"."seq", "orders"."attempts", s."error")
    INSERT INTO "order_events" ("order_seq", "type", "from_status", "to_status", "attempt", "at", "details")
    SELECT "seq", 'failed', 'processing', 'failed', "attempts", "v_now", jsonb_build_object('error', "error")
    FROM "failed" ORDER BY "seq";
  END IF;

  -- The claim events' stream key: the later of this transaction's id and that of the order's
  -- previous event (events-sql.ts: a claim must not come out of the stream before the event that
  -- made its order claimable).
  FOR "i" IN 1 .. coalesce(cardinality("p_claim_owners"), 0) LOOP
    RETURN QUERY
    WITH "claimed" AS (
      UPDATE "orders" SET "status" = 'processing', "started_at" = "v_now", "attempts" = "attempts" + 1,
        "claimed_by" = "p_claim_owners"["i"], "lease_until" = to_timestamp("p_lease_until" / 1000)
      WHERE "seq" IN (
        SELECT "seq" FROM "orders" WHERE "status" = 'pending' AND "run_at" <= "v_now"
        ORDER BY "run_at", "seq" LIMIT "p_claim_limits"["i"] FOR UPDATE SKIP LOCKED)
      RETURNING *),
    "events" AS (
      INSERT INTO "order_events" ("order_seq", "tx_id", "type", "from_status", "to_status", "attempt", "at", "details")
      SELECT "seq",
        greatest(pg_current_xact_id(),
          (SELECT e."tx_id" FROM "order_events" e WHERE e."order_seq" = "claimed"."seq" ORDER BY e."seq" DESC LIMIT 1)),
        'claimed', 'pending', 'processing', "attempts", "started_at",
        jsonb_build_object('claimed_by', "p_claim_owners"["i"])
      FROM "claimed" ORDER BY "run_at", "seq")
    SELECT * FROM "claimed";
    GET DIAGNOSTICS "v_claimed" = ROW_COUNT;
    EXIT WHEN "v_claimed" < "p_claim_limits"["i"];
  END LOOP;
END;
$$;
