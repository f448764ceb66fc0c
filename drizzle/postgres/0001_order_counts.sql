-- Running totals for GET /metrics, kept in the same transaction as every write to "orders".
-- Statement-level triggers with transition tables: one upsert per statement and status, however
-- many rows a batched statement touched (a row-level trigger would pay a function call per order).
-- Deltas go to one of 16 shards per status, picked by the backend's pid, so concurrent transactions
-- (of one replica's pool or of several replicas) rarely update the same row: a single counter row
-- would serialise every transition of every replica. The triggers name no status.
-- processing_ms adds completed_at - started_at in ms, which only completed orders have (null -> 0).
CREATE FUNCTION "orders_processing_ms"(started timestamptz, completed timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((extract(epoch FROM completed - started) * 1000)::bigint, 0)
$$;
--> statement-breakpoint
CREATE FUNCTION "orders_counts_after_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "order_counts" ("status", "shard", "orders", "processing_ms")
  SELECT "status", pg_backend_pid() % 16, count(*), sum("orders_processing_ms"("started_at", "completed_at"))
  FROM new_rows GROUP BY "status"
  ON CONFLICT ("status", "shard") DO UPDATE SET
    "orders" = "order_counts"."orders" + excluded."orders",
    "processing_ms" = "order_counts"."processing_ms" + excluded."processing_ms";
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE FUNCTION "orders_counts_after_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "order_counts" ("status", "shard", "orders", "processing_ms")
  SELECT "status", pg_backend_pid() % 16, sum("delta"), sum("ms")
  FROM (
    SELECT o."status", -1 AS "delta", -"orders_processing_ms"(o."started_at", o."completed_at") AS "ms"
    FROM old_rows o JOIN new_rows n USING ("seq") WHERE o."status" <> n."status"
    UNION ALL
    SELECT n."status", 1, "orders_processing_ms"(n."started_at", n."completed_at")
    FROM old_rows o JOIN new_rows n USING ("seq") WHERE o."status" <> n."status"
  ) AS changes
  GROUP BY "status"
  ON CONFLICT ("status", "shard") DO UPDATE SET
    "orders" = "order_counts"."orders" + excluded."orders",
    "processing_ms" = "order_counts"."processing_ms" + excluded."processing_ms";
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "orders_counts_insert" AFTER INSERT ON "orders"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "orders_counts_after_insert"();
--> statement-breakpoint
CREATE TRIGGER "orders_counts_update" AFTER UPDATE ON "orders"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "orders_counts_after_update"();
