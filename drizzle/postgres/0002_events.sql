CREATE TABLE "order_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"order_seq" bigint NOT NULL,
	"type" text NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"attempt" integer NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"details" jsonb,
	"tx_id" "xid8" DEFAULT pg_current_xact_id() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "order_events_order_idx" ON "order_events" USING btree ("order_seq","seq");--> statement-breakpoint
CREATE INDEX "order_events_stream_idx" ON "order_events" USING btree ("tx_id","seq");--> statement-breakpoint
-- Orders from before this migration: their creation is all that is known of their history.
INSERT INTO "order_events" ("order_seq", "type", "from_status", "to_status", "attempt", "at")
  SELECT "seq", 'created', NULL, 'pending', 0, "created_at" FROM "orders" ORDER BY "seq";
