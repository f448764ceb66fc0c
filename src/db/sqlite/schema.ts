/**
 * Drizzle schema of the SQLite adapter: the `orders` table is both the record of every order and
 * the work queue, so an order that got a 201 cannot be lost by losing a process. Row types are
 * inferred from here; `toOrder` maps a row to the plain record the ports speak.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ORDER_STATUSES, type Order } from "../../order.ts";

const statusList = ORDER_STATUSES.map((status) => `'${status}'`).join(", ");

export const orders = sqliteTable(
  "orders",
  {
    // Insertion order: the keyset for listing and the FIFO tie-break for the queue.
    seq: integer("seq").primaryKey(),
    orderId: text("order_id").notNull(),
    userId: text("user_id").notNull(),
    // JSON array of strings, as the client sent it.
    itemIds: text("item_ids").notNull(),
    // Money in integer minor units (cents): no floating-point drift in storage or sums.
    totalCents: integer("total_cents").notNull(),
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

/** A row of `orders` as read from the database. */
export type OrderRow = typeof orders.$inferSelect;

/** The record the ports speak: item ids parsed, the queue's own columns left out. */
export function toOrder(row: OrderRow): Order {
  return {
    seq: row.seq,
    orderId: row.orderId,
    userId: row.userId,
    itemIds: JSON.parse(row.itemIds) as string[],
    totalCents: row.totalCents,
    status: row.status,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    completedAt: row.completedAt,
    attempts: row.attempts,
    lastError: row.lastError,
  };
}
