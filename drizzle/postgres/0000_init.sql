CREATE TABLE "order_counts" (
	"status" text NOT NULL,
	"shard" smallint NOT NULL,
	"orders" bigint NOT NULL,
	"processing_ms" bigint NOT NULL,
	CONSTRAINT "order_counts_status_shard_pk" PRIMARY KEY("status","shard")
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"user_id" text NOT NULL,
	"item_ids" jsonb NOT NULL,
	"total_cents" bigint NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"started_at" timestamp (3) with time zone,
	"completed_at" timestamp (3) with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"run_at" timestamp (3) with time zone NOT NULL,
	"claimed_by" text,
	"lease_until" timestamp (3) with time zone,
	CONSTRAINT "orders_status_check" CHECK ("orders"."status" in ('pending', 'processing', 'completed', 'failed', 'cancelled'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "orders_order_id_unique" ON "orders" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "orders_due_idx" ON "orders" USING btree ("run_at","seq") WHERE "orders"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "orders_lease_idx" ON "orders" USING btree ("lease_until") WHERE "orders"."status" = 'processing';--> statement-breakpoint
CREATE INDEX "orders_status_seq_idx" ON "orders" USING btree ("status","seq");--> statement-breakpoint
CREATE INDEX "orders_user_seq_idx" ON "orders" USING btree ("user_id","seq");