-- Delivery seqs never come back (AUTOINCREMENT): without it SQLite reuses the highest rowids once
-- their rows are deleted (a deleted subscription's deliveries), and a new delivery would carry an
-- old webhook-id, which receivers drop as a duplicate. The table is rebuilt; the outbox trigger,
-- which names it, is dropped first and made again after.
DROP TRIGGER `order_events_outbox`;--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_webhook_deliveries` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
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
INSERT INTO `__new_webhook_deliveries`("seq", "webhook_id", "event_seq", "status", "attempts", "next_attempt_at", "last_error", "last_status", "delivered_at", "created_at", "claimed_by", "lease_until") SELECT "seq", "webhook_id", "event_seq", "status", "attempts", "next_attempt_at", "last_error", "last_status", "delivered_at", "created_at", "claimed_by", "lease_until" FROM `webhook_deliveries`;--> statement-breakpoint
DROP TABLE `webhook_deliveries`;--> statement-breakpoint
ALTER TABLE `__new_webhook_deliveries` RENAME TO `webhook_deliveries`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due_idx` ON `webhook_deliveries` (`status`,`next_attempt_at`,`seq`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_webhook_idx` ON `webhook_deliveries` (`webhook_id`,`seq`);--> statement-breakpoint
CREATE TRIGGER `order_events_outbox` AFTER INSERT ON `order_events`
WHEN EXISTS (SELECT 1 FROM `webhooks`) BEGIN
  INSERT INTO `webhook_deliveries` (`webhook_id`, `event_seq`, `status`, `attempts`, `next_attempt_at`, `created_at`)
    SELECT `id`, NEW.`seq`, 'pending', 0, NEW.`at`, NEW.`at` FROM `webhooks`
    WHERE `event_types` IS NULL
      OR EXISTS (SELECT 1 FROM json_each(`webhooks`.`event_types`) WHERE `value` = NEW.`type`);
END;
