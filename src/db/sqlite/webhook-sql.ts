/**
 * The webhook SQL of the SQLite adapter: subscriptions and the outbox of deliveries (filled by the
 * `order_events_outbox` trigger, drizzle/0005_webhooks.sql). Writes run on the writer thread (see
 * writes.ts), reads on the read-only connection. As with orders, every write after a claim is
 * fenced by `claimed_by`, so an attempt whose claim lapsed changes nothing.
 */
import { and, count, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { Delivery, DeliveryOutcome, Webhook } from "../../records/webhook.ts";
import type { Db } from "./client.ts";
import { webhookDeliveries, webhooks } from "./schema.ts";
import { createDeliveryClaim } from "./webhook-claim.ts";
import { toDelivery } from "./webhook-reads.ts";

/** The delivery `seq`, if `owner` holds it. */
const held = (seq: number, owner: string) =>
  and(
    eq(webhookDeliveries.seq, seq),
    eq(webhookDeliveries.status, "pending"),
    eq(webhookDeliveries.claimedBy, owner),
  );
const released = { claimedBy: null, leaseUntil: null } as const;

/** Records attempts' outcomes, each fenced by its claim. */
function settleOutcomes(db: Db, outcomes: DeliveryOutcome[]): void {
  for (const outcome of outcomes) {
    const attempts = sql`${webhookDeliveries.attempts} + 1`;
    const where = held(outcome.seq, outcome.owner);
    if (outcome.kind === "delivered") {
      db.update(webhookDeliveries)
        .set({
          status: "delivered",
          attempts,
          deliveredAt: outcome.at,
          lastStatus: outcome.status,
          ...released,
        })
        .where(where)
        .run();
    } else if (outcome.kind === "retry") {
      db.update(webhookDeliveries)
        .set({
          attempts,
          nextAttemptAt: outcome.nextAttemptAt,
          lastError: outcome.error,
          lastStatus: outcome.status,
          ...released,
        })
        .where(where)
        .run();
    } else {
      db.update(webhookDeliveries)
        .set({
          status: "dead",
          attempts,
          lastError: outcome.error,
          lastStatus: outcome.status,
          ...released,
        })
        .where(where)
        .run();
    }
  }
}

/** The webhook writes, prepared on the writer thread's connection. */
export function createWebhookWrites(db: Db) {
  return {
    /** Inserts the subscription unless `max` exist (one writer: the count is exact); whether it did. */
    createWebhook(webhook: Webhook, max: number): boolean {
      const held = db.select({ n: count() }).from(webhooks).get()?.n ?? 0;
      if (held >= max) return false;
      db.insert(webhooks)
        .values({ ...webhook, eventTypes: webhook.eventTypes && JSON.stringify(webhook.eventTypes) })
        .run();
      return true;
    },
    deleteWebhook(id: string): boolean {
      db.delete(webhookDeliveries).where(eq(webhookDeliveries.webhookId, id)).run();
      return db.delete(webhooks).where(eq(webhooks.id, id)).returning().all().length > 0;
    },
    // Due deliveries, bounded per subscription (webhook-claim.ts).
    claimDeliveries: createDeliveryClaim(db),
    settleDeliveries(outcomes: DeliveryOutcome[]): void {
      settleOutcomes(db, outcomes);
    },
    /** Extends the lease of each listed delivery its owner still holds; returns the seqs it extended. */
    renewDeliveryLeases(args: { held: { seq: number; owner: string }[]; until: number }): number[] {
      return args.held.flatMap(({ seq, owner }) =>
        db
          .update(webhookDeliveries)
          .set({ leaseUntil: args.until })
          .where(held(seq, owner))
          .returning({ seq: webhookDeliveries.seq })
          .all()
          .map((row) => row.seq),
      );
    },
    /** Drops every claim (start-up, under the file lock: their sender died with its process). */
    releaseAllDeliveries(): number {
      return db
        .update(webhookDeliveries)
        .set(released)
        .where(isNotNull(webhookDeliveries.claimedBy))
        .returning({ seq: webhookDeliveries.seq })
        .all().length;
    },
    redeliver(args: { webhookId: string; seq: number; now: number }): Delivery | undefined {
      const mine = and(eq(webhookDeliveries.seq, args.seq), eq(webhookDeliveries.webhookId, args.webhookId));
      const row = db
        .update(webhookDeliveries)
        .set({ status: "pending", attempts: 0, nextAttemptAt: args.now, ...released })
        .where(and(mine, inArray(webhookDeliveries.status, ["dead", "delivered"])))
        .returning()
        .get();
      const found = row ?? db.select().from(webhookDeliveries).where(mine).get();
      return found && toDelivery(found);
    },
  };
}
