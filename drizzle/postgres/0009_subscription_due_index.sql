-- The webhook claim bounded per subscription (webhook-sql.ts, claimDeliveries) reads each
-- subscription's due deliveries oldest first off this index, so a full subscription's backlog is
-- never scanned. Its journal entry is dated after 0008's (whose date is ahead of the clock): the
-- migrator skips a migration older than the last one applied.
CREATE INDEX "webhook_deliveries_subscription_due_idx" ON "webhook_deliveries" USING btree ("webhook_id","next_attempt_at","seq") WHERE "webhook_deliveries"."status" = 'pending';