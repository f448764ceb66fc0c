-- The webhook claim bounded per subscription (src/db/sqlite/webhook-claim.ts) reads each
-- subscription's due deliveries oldest first off this index, so a full subscription's backlog is
-- never scanned.
CREATE INDEX `webhook_deliveries_subscription_due_idx` ON `webhook_deliveries` (`webhook_id`,`next_attempt_at`,`seq`) WHERE "webhook_deliveries"."status" = 'pending';