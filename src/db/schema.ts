/**
 * Drizzle schema: the `orders` table is both the record of every order and the work queue, so an
 * order that got a 201 cannot be lost by losing a process. Row types are inferred from here.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Every status an order can be in, in lifecycle order. */
export const ORDER_STATUSES = ["pending", "processing", "completed", "failed", "cancelled"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

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
  },
  (table) => [
    uniqueIndex("orders_order_id_unique").on(table.orderId),
    // The queue's claim: due pending orders, oldest first, straight off the index (no sort).
    index("orders_queue_idx").on(table.status, table.runAt, table.seq),
    index("orders_status_seq_idx").on(table.status, table.seq),
    index("orders_user_seq_idx").on(table.userId, table.seq),
    check(
      "orders_status_check",
      sql`${table.status} in ('pending', 'processing', 'completed', 'failed', 'cancelled')`,
    ),
  ],
);

/**
 * Running totals kept by triggers on `orders` (see the custom migration), so `GET /metrics` reads
 * one row instead of scanning millions. A single row with id 1.
 */
export const orderMetrics = sqliteTable("order_metrics", {
  id: integer("id").primaryKey(),
  pending: integer("pending").notNull().default(0),
  processing: integer("processing").notNull().default(0),
  completed: integer("completed").notNull().default(0),
  failed: integer("failed").notNull().default(0),
  cancelled: integer("cancelled").notNull().default(0),
  // Sum of completed_at - started_at over completed orders, in milliseconds.
  completedProcessingMs: integer("completed_processing_ms").notNull().default(0),
});

/** A row of `orders` as read from the database. */
export type OrderRow = typeof orders.$inferSelect;
/** A row of `orders` as inserted. */
export type NewOrderRow = typeof orders.$inferInsert;
