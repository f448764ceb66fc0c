-- Each subscription's backlog (pending count, oldest event) read off this index alone: the
-- /metrics gauges and GET /webhooks read it at every scrape. Dated after 0009 (see there).
CREATE INDEX "webhook_deliveries_backlog_idx" ON "webhook_deliveries" USING btree ("webhook_id","created_at") WHERE "webhook_deliveries"."status" = 'pending';