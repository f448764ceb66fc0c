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
import { ORDER_STATUSES, type Order } from "../../order.ts";

const statusList = ORDER_STATUSES.map((status) => `'${status}'`).join(", ");
const time = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const orders = pgTable(
  "orders",
  {
    // Insertion order: the keyset for listing and the FIFO tie-break for the queue.
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    orderId: text("order_id").notNull(),
    userId: text("user_id").notNull(),
    itemIds: jsonb("item_ids").$type<string[]>().notNull(),
    // Money in integer minor units (cents).
    totalCents: bigint("total_cents", { mode: "number" }).notNull(),
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
    totalCents: row.totalCents,
    status: row.status,
    createdAt: row.createdAt.getTime(),
    startedAt: ms(row.startedAt),
    completedAt: ms(row.completedAt),
    attempts: row.attempts,
    lastError: row.lastError,
  };
}
