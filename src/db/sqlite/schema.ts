/**
 * Drizzle schema of the SQLite adapter: the `orders` table is both the record of every order and
 * the work queue, so an order that got a 201 cannot be lost by losing a process. Row types are
 * inferred from here; `toOrder` maps a row to the plain record the ports speak.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { type Cart, EVENT_TYPES, ORDER_STATUSES, type Order, type StepEntry } from "../../records/order.ts";
import { DELIVERY_STATUSES } from "../../records/webhook.ts";

const statusList = ORDER_STATUSES.map((status) => `'${status}'`).join(", ");

export const orders = sqliteTable(
  "orders",
  {
    // Insertion order: the keyset for listing and the FIFO tie-break for the queue.
    seq: integer("seq").primaryKey(),
    orderId: text("order_id").notNull(),
    userId: text("user_id").notNull(),
    // JSON array of strings: as the client sent it, or the SKU of each line of an order with lines.
    itemIds: text("item_ids").notNull(),
    // ISO 4217 code; money is in integer minor units of it: no floating-point drift in storage or sums.
    currency: text("currency").notNull().default("USD"),
    totalMinor: integer("total_minor").notNull(),
    // JSON of the priced lines and charges (records/order.ts, Cart); NULL for a seed-shaped order.
    cart: text("cart"),
    status: text("status", { enum: ORDER_STATUSES }).notNull(),
    // Times are epoch milliseconds (UTC); the API renders them as ISO-8601.
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    completedAt: integer("completed_at"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    // When a pending order may next be claimed (now for new orders, later after a failed attempt).
    runAt: integer("run_at").notNull(),
    // The worker slot that holds a processing order; every write after a claim is guarded by it.
    claimedBy: text("claimed_by"),
    // Until when the claim holds (epoch ms); renewed while the order is worked on. The file lock
    // already keeps a second process away, so on SQLite an expired lease means a stuck dispatcher,
    // and start-up releases every processing order anyway; the lease keeps both adapters alike.
    leaseUntil: integer("lease_until"),
    // JSON array of the steps completed so far (records/order.ts, StepEntry); NULL for none.
    steps: text("steps"),
    // When a client cancelled it with completed steps to undo: it is cancelled once they are.
    cancelRequestedAt: integer("cancel_requested_at"),
    // The W3C traceparent of the request that created it (tracing on): its attempts and webhook
    // deliveries are spans of that trace, on whichever replica or thread runs them.
    traceParent: text("trace_parent"),
  },
  (table) => [
    uniqueIndex("orders_order_id_unique").on(table.orderId),
    // The queue's claim: due pending orders, oldest first, straight off the index (no sort).
    index("orders_queue_idx").on(table.status, table.runAt, table.seq),
    index("orders_status_seq_idx").on(table.status, table.seq),
    index("orders_user_seq_idx").on(table.userId, table.seq),
    check("orders_status_check", sql`${table.status} in (${sql.raw(statusList)})`),
  ],
);

/**
 * Running totals per status, kept by triggers on `orders` in the same transaction as every write
 * (drizzle/0002_order_counts.sql), so `GET /metrics` reads a handful of rows instead of scanning
 * millions. One row per status that has ever had an order; the triggers name no status, so the
 * list above stays the only one.
 */
export const orderCounts = sqliteTable("order_counts", {
  status: text("status", { enum: ORDER_STATUSES }).primaryKey(),
  orders: integer("orders").notNull(),
  // Sum of completed_at - started_at over the orders in this status (only completed ones have a
  // completed_at, so it is the completed orders' processing time), in milliseconds.
  processingMs: integer("processing_ms").notNull(),
});

/**
 * The history of every order: one row per transition, written by writes.ts in the transaction of
 * the transition itself. The single writer commits them in `seq` order, so `seq` is also the order
 * in which they became visible: a reader that has seen `seq` N has seen every event before it.
 * The order's id and user are read through `order_seq` (a join on the primary key), not copied.
 */
export const orderEvents = sqliteTable(
  "order_events",
  {
    seq: integer("seq").primaryKey(),
    orderSeq: integer("order_seq").notNull(),
    type: text("type", { enum: EVENT_TYPES }).notNull(),
    fromStatus: text("from_status", { enum: ORDER_STATUSES }),
    toStatus: text("to_status", { enum: ORDER_STATUSES }).notNull(),
    attempt: integer("attempt").notNull(),
    at: integer("at").notNull(),
    // JSON object or null: the error and backoff of a failed attempt, a release's reason.
    details: text("details"),
  },
  (table) => [index("order_events_order_idx").on(table.orderSeq, table.seq)],
);

/** Webhook subscriptions (src/webhooks/store.ts); `event_types` is a JSON array, or null for all. */
export const webhooks = sqliteTable("webhooks", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  // Kept to sign each delivery; the API shows it only once, when the subscription is created.
  secret: text("secret").notNull(),
  eventTypes: text("event_types"),
  createdAt: integer("created_at").notNull(),
});

/**
 * The outbox: one row per event per matching subscription, inserted by a trigger on
 * `order_events` (drizzle/0005_webhooks.sql), so in the very transaction that records the event.
 * The sender claims due rows (a lease, as orders have) and records each attempt's outcome.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    // AUTOINCREMENT: a seq is never used twice, even after a deleted subscription took the
    // highest ones with it; the webhook-id receivers deduplicate by is made from it.
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    webhookId: text("webhook_id").notNull(),
    eventSeq: integer("event_seq").notNull(),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastError: text("last_error"),
    lastStatus: integer("last_status"),
    deliveredAt: integer("delivered_at"),
    createdAt: integer("created_at").notNull(),
    claimedBy: text("claimed_by"),
    leaseUntil: integer("lease_until"),
  },
  (table) => [
    index("webhook_deliveries_due_idx").on(table.status, table.nextAttemptAt, table.seq),
    index("webhook_deliveries_webhook_idx").on(table.webhookId, table.seq),
    // The claim bounded per subscription (webhook-claim.ts): one subscription's due deliveries,
    // oldest first, so it reads only what it may take of each and nothing of a full one's backlog.
    index("webhook_deliveries_subscription_due_idx")
      .on(table.webhookId, table.nextAttemptAt, table.seq)
      .where(sql`${table.status} = 'pending'`),
    // Each subscription's backlog (webhook_backlog in /metrics, GET /webhooks, the dashboard): its
    // pending count and oldest event read off this index alone, not off the rows.
    index("webhook_deliveries_backlog_idx")
      .on(table.webhookId, table.createdAt)
      .where(sql`${table.status} = 'pending'`),
  ],
);

/** A row of `orders` as read from the database. */
export type OrderRow = typeof orders.$inferSelect;

/** The record the ports speak: item ids parsed, the queue's own columns left out. */
export function toOrder(row: OrderRow): Order {
  return {
    seq: row.seq,
    orderId: row.orderId,
    userId: row.userId,
    itemIds: JSON.parse(row.itemIds) as string[],
    currency: row.currency,
    totalMinor: row.totalMinor,
    cart: row.cart === null ? null : (JSON.parse(row.cart) as Cart),
    status: row.status,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    completedAt: row.completedAt,
    attempts: row.attempts,
    lastError: row.lastError,
    steps: row.steps === null ? [] : (JSON.parse(row.steps) as StepEntry[]),
    cancelRequestedAt: row.cancelRequestedAt,
    traceParent: row.traceParent,
  };
}
