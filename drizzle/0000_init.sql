CREATE TABLE `order_metrics` (
	`id` integer PRIMARY KEY NOT NULL,
	`pending` integer DEFAULT 0 NOT NULL,
	`processing` integer DEFAULT 0 NOT NULL,
	`completed` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`cancelled` integer DEFAULT 0 NOT NULL,
	`completed_processing_ms` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `orders` (
	`seq` integer PRIMARY KEY NOT NULL,
	`order_id` text NOT NULL,
	`user_id` text NOT NULL,
	`item_ids` text NOT NULL,
	`total_cents` integer NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`completed_at` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`run_at` integer NOT NULL,
	`claimed_by` text,
	CONSTRAINT "orders_status_check" CHECK("orders"."status" in ('pending', 'processing', 'completed', 'failed', 'cancelled'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `orders_order_id_unique` ON `orders` (`order_id`);--> statement-breakpoint
CREATE INDEX `orders_queue_idx` ON `orders` (`status`,`run_at`,`seq`);--> statement-breakpoint
CREATE INDEX `orders_status_seq_idx` ON `orders` (`status`,`seq`);--> statement-breakpoint
CREATE INDEX `orders_user_seq_idx` ON `orders` (`user_id`,`seq`);