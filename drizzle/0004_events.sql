CREATE TABLE `order_events` (
	`seq` integer PRIMARY KEY NOT NULL,
	`order_seq` integer NOT NULL,
	`type` text NOT NULL,
	`from_status` text,
	`to_status` text NOT NULL,
	`attempt` integer NOT NULL,
	`at` integer NOT NULL,
	`details` text
);
--> statement-breakpoint
CREATE INDEX `order_events_order_idx` ON `order_events` (`order_seq`,`seq`);--> statement-breakpoint
-- Orders from before this migration: their creation is all that is known of their history.
INSERT INTO `order_events` (`order_seq`, `type`, `from_status`, `to_status`, `attempt`, `at`)
  SELECT `seq`, 'created', NULL, 'pending', 0, `created_at` FROM `orders` ORDER BY `seq`;
