/**
 * The webhook SQL of the SQLite adapter: subscriptions and the outbox of deliveries (filled by the
 * `order_events_outbox` trigger, drizzle/0005_webhooks.sql). Writes run on the writer thread (see
 * writes.ts), reads on the read-only connection. As with orders, every write after a claim is
 * fenced by `claimed_by`, so an attempt whose claim lapsed changes nothing.
 */
import { and, count, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import type { Delivery, DeliveryOutcome, Webhook } from "../../records/webhook.ts";
import type { Db } from "./client.ts";
import { webhookDeliveries, webhooks } from "./schema.ts";
import { createDeliveryClaim } from "./webhook-claim.ts";
import { toDelivery } from "./webhook-reads.ts";

const p = sql.placeholder;
// A placeholder as a value of `.set()` (Drizzle types those as SQL, not as placeholders).
const value = (name: string) => sql`${p(name)}`;

/** The delivery `seq`, if `owner` holds it (placeholders `seq`, `owner`). */
const held = and(
  eq(webhookDeliveries.seq, p("seq")),
  eq(webhookDeliveries.status, "pending"),
  eq(webhookDeliveries.claimedBy, p("owner")),
);
const released = { claimedBy: null, leaseUntil: null } as const;

/**
 * Records attempts' outcomes, each fenced by its claim: one prepared statement per kind of outcome
 * (a statement built per outcome cost ~60 µs of the writer thread, prepared ~5; docs/PERFORMANCE.md).
 */
function outcomeRecorder(db: Db) {
  const attempts = sql`${webhookDeliveries.attempts} + 1`;
  const settle = (set: SQLiteUpdateSetSource<typeof webhookDeliveries>) =>
    db
      .update(webhookDeliveries)
      .set({ attempts, lastStatus: value("status"), ...released, ...set })
      .where(held)
      .prepare();
  const byKind = {
    delivered: settle({ status: "delivered", deliveredAt: value("at") }),
    retry: settle({ nextAttemptAt: value("nextAttemptAt"), lastError: value("error") }),
    dead: settle({ status: "dead", lastError: value("error") }),
  };
  return (outcomes: DeliveryOutcome[]): void => {
    for (const outcome of outcomes) byKind[outcome.kind].run(outcome);
  };
}

/** The webhook writes, prepared on the writer thread's connection. */
export function createWebhookWrites(db: Db) {
  const settleOutcomes = outcomeRecorder(db);
  const renew = db
    .update(webhookDeliveries)
    .set({ leaseUntil: value("until") })
    .where(held)
    .returning({ seq: webhookDeliveries.seq })
    .prepare();
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
      settleOutcomes(outcomes);
    },
    /** Extends the lease of each listed delivery its owner still holds; returns the seqs it extended. */
    renewDeliveryLeases(args: { held: { seq: number; owner: string }[]; until: number }): number[] {
      return args.held.flatMap(({ seq, owner }) =>
        renew.all({ seq, owner, until: args.until }).map((row) => row.seq),
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
