/**
 * The webhook reads of the SQLite adapter, on the read-only connection: subscriptions, a
 * subscription's deliveries, when the next one falls due; and the row mappers the writes share.
 */
import { and, asc, eq, gt, min, or, type SQL } from "drizzle-orm";
import type { Delivery, DeliveryStatus, Webhook, WebhookKey } from "../../records/webhook.ts";
import type { Db } from "./client.ts";
import { webhookDeliveries, webhooks } from "./schema.ts";

type WebhookRow = typeof webhooks.$inferSelect;
type DeliveryRow = typeof webhookDeliveries.$inferSelect;

export const toWebhook = (row: WebhookRow): Webhook => ({
  ...row,
  eventTypes: row.eventTypes === null ? null : JSON.parse(row.eventTypes),
});

export const toDelivery = ({ claimedBy: _c, leaseUntil: _l, ...row }: DeliveryRow): Delivery => row;

/** The webhook reads, prepared on the read-only connection. */
export function createWebhookReads(db: Db) {
  const next = db
    .select({ at: min(webhookDeliveries.nextAttemptAt) })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.status, "pending"))
    .prepare();
  // At scrape time (and the dashboard's, GET /webhooks): one pass over the backlog index alone.
  // SQLite's planner, without statistics, prefers the due index and the rows behind it (4x slower
  // at 120,000 pending); INDEXED BY, which Drizzle cannot write, names the covering one.
  const backlog = db.$client.query<{ webhookId: string; pending: number; oldestAt: number | null }, []>(
    `SELECT webhook_id AS webhookId, count(*) AS pending, min(created_at) AS oldestAt
     FROM webhook_deliveries INDEXED BY webhook_deliveries_backlog_idx
     WHERE status = 'pending' GROUP BY webhook_id`,
  );
  return {
    listWebhooks({ after, limit }: { after?: WebhookKey; limit: number }): Webhook[] {
      return db
        .select()
        .from(webhooks)
        .where(
          after &&
            or(
              gt(webhooks.createdAt, after.createdAt),
              and(eq(webhooks.createdAt, after.createdAt), gt(webhooks.id, after.id)),
            ),
        )
        .orderBy(asc(webhooks.createdAt), asc(webhooks.id))
        .limit(limit)
        .all()
        .map(toWebhook);
    },
    findWebhook(id: string): Webhook | undefined {
      const row = db.select().from(webhooks).where(eq(webhooks.id, id)).get();
      return row && toWebhook(row);
    },
    listDeliveries(query: { webhookId: string; afterSeq: number; limit: number; status?: DeliveryStatus }) {
      const conditions: SQL[] = [
        eq(webhookDeliveries.webhookId, query.webhookId),
        gt(webhookDeliveries.seq, query.afterSeq),
      ];
      if (query.status) conditions.push(eq(webhookDeliveries.status, query.status));
      return db
        .select()
        .from(webhookDeliveries)
        .where(and(...conditions))
        .orderBy(asc(webhookDeliveries.seq))
        .limit(query.limit)
        .all()
        .map(toDelivery);
    },
    /** Each subscription's pending deliveries: how many, and when the oldest one's event was committed. */
    backlogs(): { webhookId: string; pending: number; oldestAt: number }[] {
      return backlog.all().map((row) => ({ ...row, oldestAt: row.oldestAt ?? 0 }));
    },
    nextDeliveryAt(): number | null {
      return next.get()?.at ?? null;
    },
  };
}
