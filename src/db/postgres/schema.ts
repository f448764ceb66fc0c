/**
 * Drizzle schema of the PostgreSQL adapter: the same `orders` table as on SQLite (the record of
 * every order and the work queue), with a lease on each claim so that several replicas can share
 * the queue, and running totals spread over shards so that no single row serialises them.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { ActivityReport } from "../../records/activity.ts";
import {
  type Cart,
  EVENT_TYPES,
  type EventType,
  ORDER_STATUSES,
  type Order,
  type StepEntry,
} from "../../records/order.ts";
import { DELIVERY_STATUSES } from "../../records/webhook.ts";

const quoted = (values: readonly string[]) => values.map((value) => `'${value}'`).join(", ");
const statusList = quoted(ORDER_STATUSES);
const time = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const orders = pgTable(
  "orders",
  {
    // Insertion order: the keyset for listing and the FIFO tie-break for the queue.
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    orderId: text("order_id").notNull(),
    userId: text("user_id").notNull(),
    // As the client sent them, or the SKU of each line of an order with lines.
    itemIds: jsonb("item_ids").$type<string[]>().notNull(),
    // ISO 4217 code; money is in integer minor units of it.
    currency: text("currency").notNull().default("USD"),
    totalMinor: bigint("total_minor", { mode: "number" }).notNull(),
    // The priced lines and charges (records/order.ts, Cart); NULL for a seed-shaped order.
    cart: jsonb("cart").$type<Cart>(),
    status: text("status", { enum: ORDER_STATUSES }).notNull(),
    createdAt: time("created_at").notNull(),
    startedAt: time("started_at"),
    completedAt: time("completed_at"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    // When a pending order may next be claimed.
    runAt: time("run_at").notNull(),
    // The worker slot (of some replica) that holds a processing order, and until when: the holder
    // renews the lease while it works; an expired lease means the holder is gone (rescue).
    claimedBy: text("claimed_by"),
    leaseUntil: time("lease_until"),
    // The steps completed so far (records/order.ts, StepEntry), in order; NULL for none.
    steps: jsonb("steps").$type<StepEntry[]>(),
    // When a client cancelled it with completed steps to undo: it is cancelled once they are.
    cancelRequestedAt: time("cancel_requested_at"),
    // The W3C traceparent of the request that created it (tracing on): its attempts and webhook
    // deliveries are spans of that trace, on whichever replica runs them.
    traceParent: text("trace_parent"),
  },
  (table) => [
    uniqueIndex("orders_order_id_unique").on(table.orderId),
    // The claim: due pending orders, oldest first, read in order off a small partial index.
    index("orders_due_idx").on(table.runAt, table.seq).where(sql`${table.status} = 'pending'`),
    // The rescue: processing orders by lease expiry.
    index("orders_lease_idx").on(table.leaseUntil).where(sql`${table.status} = 'processing'`),
    index("orders_status_seq_idx").on(table.status, table.seq),
    index("orders_user_seq_idx").on(table.userId, table.seq),
    check("orders_status_check", sql`${table.status} in (${sql.raw(statusList)})`),
  ],
);

/**
 * Running totals per status, kept by triggers (drizzle/postgres/0001_order_counts.sql) in the same
 * transaction as every write to `orders`. Each transaction adds its deltas to one of 16 shards
 * (chosen by its backend's pid), so concurrent transactions of several replicas rarely wait on the
 * same row; `GET /metrics` sums at most 5 × 16 rows.
 */
export const orderCounts = pgTable(
  "order_counts",
  {
    status: text("status", { enum: ORDER_STATUSES }).notNull(),
    shard: smallint("shard").notNull(),
    orders: bigint("orders", { mode: "number" }).notNull(),
    processingMs: bigint("processing_ms", { mode: "number" }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.status, table.shard] })],
);

// PostgreSQL's 64-bit transaction id (no wraparound); pg returns it as a decimal string.
const xid8 = customType<{ data: string }>({ dataType: () => "xid8" });

/**
 * The history of every order: one row per transition, inserted by the statement that makes the
 * transition (queue-sql.ts). `seq` comes from a sequence, which is not commit order across
 * transactions; `tx_id` is the stream key that is (see events-sql.ts): the id of the transaction
 * that wrote the event, or, for a claim, that of the order's previous event if later. The order's
 * id and user are read through `order_seq` (a join on the primary key), not copied.
 */
export const orderEvents = pgTable(
  "order_events",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    orderSeq: bigint("order_seq", { mode: "number" }).notNull(),
    type: text("type", { enum: EVENT_TYPES }).notNull(),
    fromStatus: text("from_status", { enum: ORDER_STATUSES }),
    toStatus: text("to_status", { enum: ORDER_STATUSES }).notNull(),
    attempt: integer("attempt").notNull(),
    at: time("at").notNull(),
    // The error and backoff of a failed attempt, a claim's holder, a release's reason, ...
    details: jsonb("details").$type<Record<string, unknown>>(),
    txId: xid8("tx_id").notNull().default(sql`pg_current_xact_id()`),
  },
  (table) => [
    // One order's history (listOrderEvents, readEvents by order).
    index("order_events_order_idx").on(table.orderSeq, table.seq),
    // The stream: readEvents and latestEventSeq walk it in (tx_id, seq) order.
    index("order_events_stream_idx").on(table.txId, table.seq),
  ],
);

/** Webhook subscriptions (src/webhooks/store.ts); `event_types` null means every type. */
export const webhooks = pgTable("webhooks", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  // Kept to sign each delivery; the API shows it only once, when the subscription is created.
  secret: text("secret").notNull(),
  eventTypes: text("event_types").array().$type<EventType[]>(),
  createdAt: time("created_at").notNull(),
});

/**
 * The outbox: one row per event per matching subscription, inserted by a statement-level trigger
 * on `order_events` (drizzle/postgres/0003_webhooks.sql), so in the very transaction that records
 * the event. Senders of any replica claim due rows with a lease (as orders have) and record each
 * attempt's outcome (webhook-sql.ts).
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    webhookId: text("webhook_id").notNull(),
    eventSeq: bigint("event_seq", { mode: "number" }).notNull(),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: time("next_attempt_at").notNull(),
    lastError: text("last_error"),
    // The HTTP status of the last attempt's answer, when there was one.
    lastStatus: integer("last_status"),
    deliveredAt: time("delivered_at"),
    createdAt: time("created_at").notNull(),
    // The sender (of some replica) that holds a claimed delivery, and until when.
    claimedBy: text("claimed_by"),
    leaseUntil: time("lease_until"),
  },
  (table) => [
    // The claim: due pending deliveries, oldest first, off a partial index that delivered and dead
    // rows (nearly all of them, in time) never enter.
    index("webhook_deliveries_due_idx")
      .on(table.nextAttemptAt, table.seq)
      .where(sql`${table.status} = 'pending'`),
    // One subscription's deliveries (listDeliveries, deleteWebhook).
    index("webhook_deliveries_webhook_idx").on(table.webhookId, table.seq),
    // The claim bounded per subscription: each subscription's due deliveries, oldest first, so the
    // claim reads only what it may take of each, and nothing of a full one's backlog.
    index("webhook_deliveries_subscription_due_idx")
      .on(table.webhookId, table.nextAttemptAt, table.seq)
      .where(sql`${table.status} = 'pending'`),
    // Each subscription's backlog (webhook_backlog in /metrics, GET /webhooks, the dashboard): its
    // pending count and oldest event read off this index alone, not off the rows.
    index("webhook_deliveries_backlog_idx")
      .on(table.webhookId, table.createdAt)
      .where(sql`${table.status} = 'pending'`),
    check("webhook_deliveries_status_check", sql`${table.status} in (${sql.raw(quoted(DELIVERY_STATUSES))})`),
  ],
);

/**
 * Each replica's latest dashboard report (src/dashboard/store.ts), upserted every second by its
 * replica and read by all (dashboard-sql.ts). No index on `at`: the table holds a row per replica
 * started within the last hour, and with the primary key the only index, every upsert is a HOT
 * update that writes no index entry.
 */
export const replicaActivity = pgTable("replica_activity", {
  replica: text("replica").primaryKey(),
  at: time("at").notNull(),
  // The rest of the report: the latency buckets and the running totals.
  report: jsonb("report").$type<Omit<ActivityReport, "replica" | "at">>().notNull(),
});

/** A row of `orders` as read from the database. */
export type OrderRow = typeof orders.$inferSelect;

const ms = (date: Date | null) => (date === null ? null : date.getTime());

/** The record the ports speak: times as epoch ms, the queue's own columns left out. */
export function toOrder(row: OrderRow): Order {
  return {
    seq: row.seq,
    orderId: row.orderId,
    userId: row.userId,
    itemIds: row.itemIds,
    currency: row.currency,
    totalMinor: row.totalMinor,
    cart: row.cart,
    status: row.status,
    createdAt: row.createdAt.getTime(),
    startedAt: ms(row.startedAt),
    completedAt: ms(row.completedAt),
    attempts: row.attempts,
    lastError: row.lastError,
    steps: row.steps ?? [],
    cancelRequestedAt: ms(row.cancelRequestedAt),
    traceParent: row.traceParent,
  };
}
