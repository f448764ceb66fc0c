CREATE TABLE "webhook_deliveries" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"webhook_id" text NOT NULL,
	"event_seq" bigint NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone NOT NULL,
	"last_error" text,
	"last_status" integer,
	"delivered_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone NOT NULL,
	"claimed_by" text,
	"lease_until" timestamp (3) with time zone,
	CONSTRAINT "webhook_deliveries_status_check" CHECK ("webhook_deliveries"."status" in ('pending', 'delivered', 'dead'))
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"id" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"secret" text NOT NULL,
	"event_types" text[],
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" USING btree ("next_attempt_at","seq") WHERE "webhook_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "webhook_deliveries_webhook_idx" ON "webhook_deliveries" USING btree ("webhook_id","seq");--> statement-breakpoint
-- The outbox is written in the transaction that records the event: for each subscription an event
-- matches, one pending delivery, due at once, in event order. A statement-level trigger with a
-- transition table, like the order counts (0001): one function call per statement, however many
-- events a batched statement inserted. With no subscription it stops after one look at an empty
-- table. The subscriptions are read FOR KEY SHARE: a concurrent deleteWebhook (which deletes the
-- subscription first, then its deliveries, in one transaction) either waits for this transaction to
-- commit, and then deletes what it wrote, or committed first, and then this skips the deleted row;
-- a plain read could write deliveries for a subscription deleted meanwhile, never to be sent.
-- Creates never wait on each other: nothing else locks subscription rows.
CREATE FUNCTION "order_events_outbox"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM "webhooks") THEN
    RETURN NULL;
  END IF;
  INSERT INTO "webhook_deliveries" ("webhook_id", "event_seq", "status", "attempts", "next_attempt_at", "created_at")
  SELECT w."id", e."seq", 'pending', 0, e."at", e."at"
  FROM new_events e
  JOIN (SELECT "id", "event_types", "created_at" FROM "webhooks" FOR KEY SHARE) w
    ON w."event_types" IS NULL OR e."type" = ANY (w."event_types")
  ORDER BY e."seq", w."created_at", w."id";
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "order_events_outbox" AFTER INSERT ON "order_events"
  REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION "order_events_outbox"();
