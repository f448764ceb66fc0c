/**
 * The webhook SQL of the SQLite adapter: subscriptions and the outbox of deliveries (filled by the
 * `order_events_outbox` trigger, drizzle/0005_webhooks.sql). Writes run on the writer thread (see
 * writes.ts), reads on the read-only connection. As with orders, every write after a claim is
 * fenced by `claimed_by`, so an attempt whose claim lapsed changes nothing.
 */
import { and, asc, count, eq, inArray, isNotNull, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { OrderEvent } from "../../records/order.ts";
import type { Delivery, DeliveryOutcome, Webhook } from "../../records/webhook.ts";
import type { Db } from "./client.ts";
import { eventColumns, toEvent } from "./reads.ts";
import { orderEvents, orders, webhookDeliveries, webhooks } from "./schema.ts";

import { toDelivery } from "./webhook-reads.ts";

/** Deliveries due at `now`: pending, their time come, not held by a live lease. */
const due = (now: number) =>
  and(
    eq(webhookDeliveries.status, "pending"),
    lte(webhookDeliveries.nextAttemptAt, now),
    or(isNull(webhookDeliveries.leaseUntil), lt(webhookDeliveries.leaseUntil, now)),
  );
/** The delivery `seq`, if `owner` holds it. */
const held = (seq: number, owner: string) =>
  and(
    eq(webhookDeliveries.seq, seq),
    eq(webhookDeliveries.status, "pending"),
    eq(webhookDeliveries.claimedBy, owner),
  );
const released = { claimedBy: null, leaseUntil: null } as const;

/** Claims up to `limit` due deliveries for `owner`, oldest first, with what sending needs. */
function claimDue(db: Db, args: { owner: string; limit: number; now: number; leaseUntil: number }) {
  const picked = db
    .select({ seq: webhookDeliveries.seq })
    .from(webhookDeliveries)
    .where(due(args.now))
    .orderBy(asc(webhookDeliveries.nextAttemptAt), asc(webhookDeliveries.seq))
    .limit(args.limit);
  const claimed = db
    .update(webhookDeliveries)
    .set({ claimedBy: args.owner, leaseUntil: args.leaseUntil })
    .where(inArray(webhookDeliveries.seq, picked))
    .returning()
    .all();
  if (claimed.length === 0) return [];
  const rows = db
    .select({
      ...eventColumns,
      deliverySeq: webhookDeliveries.seq,
      url: webhooks.url,
      secret: webhooks.secret,
    })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .innerJoin(orderEvents, eq(orderEvents.seq, webhookDeliveries.eventSeq))
    .innerJoin(orders, eq(orders.seq, orderEvents.orderSeq))
    .where(
      inArray(
        webhookDeliveries.seq,
        claimed.map((row) => row.seq),
      ),
    )
    .all();
  const extra = new Map(
    rows.map(({ deliverySeq, url, secret, ...event }) => [deliverySeq, { url, secret, event }]),
  );
  return claimed
    .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.seq - b.seq)
    .flatMap((row) => {
      const found = extra.get(row.seq);
      if (!found) return [];
      const event: OrderEvent = toEvent(found.event);
      return [{ ...toDelivery(row), url: found.url, secret: found.secret, event }];
    });
}

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
    claimDeliveries(args: { owner: string; limit: number; now: number; leaseUntil: number }) {
      return claimDue(db, args);
    },
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
