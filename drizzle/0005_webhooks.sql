CREATE TABLE `webhook_deliveries` (
	`seq` integer PRIMARY KEY NOT NULL,
	`webhook_id` text NOT NULL,
	`event_seq` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`last_status` integer,
	`delivered_at` integer,
	`created_at` integer NOT NULL,
	`claimed_by` text,
	`lease_until` integer
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due_idx` ON `webhook_deliveries` (`status`,`next_attempt_at`,`seq`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_webhook_idx` ON `webhook_deliveries` (`webhook_id`,`seq`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`secret` text NOT NULL,
	`event_types` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
-- The outbox is written in the transaction that records the event: for each subscription the
-- event matches, one pending delivery, due at once. Without subscriptions it costs one lookup in an
-- empty table per event.
CREATE TRIGGER `order_events_outbox` AFTER INSERT ON `order_events`
WHEN EXISTS (SELECT 1 FROM `webhooks`) BEGIN
  INSERT INTO `webhook_deliveries` (`webhook_id`, `event_seq`, `status`, `attempts`, `next_attempt_at`, `created_at`)
    SELECT `id`, NEW.`seq`, 'pending', 0, NEW.`at`, NEW.`at` FROM `webhooks`
    WHERE `event_types` IS NULL
      OR EXISTS (SELECT 1 FROM json_each(`webhooks`.`event_types`) WHERE `value` = NEW.`type`);
END;
