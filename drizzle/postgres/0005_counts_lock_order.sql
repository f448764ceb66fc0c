-- Counter rows are taken in one order by everyone, so transactions of one shard never deadlock
-- (seen under a k6 burst on three replicas: "deadlock detected" in a pump). The triggers upsert
-- their rows in status order within each statement; a pump, which runs several statements in one
-- transaction, locks its shard's rows in that same order first (pump.ts); and the adapter creates
-- every (status, shard) row at start-up, so nobody races another transaction to insert one.
CREATE OR REPLACE FUNCTION "orders_counts_after_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "order_counts" ("status", "shard", "orders", "processing_ms")
  SELECT "status", pg_backend_pid() % 16, count(*), sum("orders_processing_ms"("started_at", "completed_at"))
  FROM new_rows GROUP BY "status" ORDER BY "status"
  ON CONFLICT ("status", "shard") DO UPDATE SET
    "orders" = "order_counts"."orders" + excluded."orders",
    "processing_ms" = "order_counts"."processing_ms" + excluded."processing_ms";
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION "orders_counts_after_update"() RETURNS trigger LANGUAGE plpgsql AS $$
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
  GROUP BY "status" ORDER BY "status"
  ON CONFLICT ("status", "shard") DO UPDATE SET
    "orders" = "order_counts"."orders" + excluded."orders",
    "processing_ms" = "order_counts"."processing_ms" + excluded."processing_ms";
  RETURN NULL;
END;
$$;
