/**
 * Order use cases. Plain functions that know nothing of HTTP: they take their dependencies, throw
 * `AppError`s, and return plain data for the routes to send.
 */

import type { OrderRow } from "../db/schema.ts";
import type { DatabaseWriter } from "../db/writer.ts";
import { AppError, validationError } from "../errors.ts";
import type { CreateOrderBody, ListOrdersQuery, OrderPage, OrderStatusView, OrderView } from "./model.ts";
import { fromCents, toCents } from "./money.ts";
import type { OrderStore } from "./store.ts";

/** What the orders use cases need. */
export type OrderDeps = {
  /** Reads, on the main thread's connection. */
  store: OrderStore;
  /** Writes, on the writer thread (see writes.ts). */
  writer: DatabaseWriter;
  now: () => number;
  /** Called after a new order is committed, so the queue picks it up without polling. */
  onOrderStored: () => void;
};

/** The outcome of a create: a new order (201) or an identical replay of an existing one (200). */
export type CreateResult = { created: boolean; order: OrderStatusView };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The public shape of an order row. */
export function toOrderView(row: OrderRow): OrderView {
  return {
    order_id: row.orderId,
    user_id: row.userId,
    item_ids: JSON.parse(row.itemIds) as string[],
    total_amount: fromCents(row.totalCents),
    status: row.status,
    created_at: new Date(row.createdAt).toISOString(),
    started_at: iso(row.startedAt),
    completed_at: iso(row.completedAt),
    attempts: row.attempts,
    last_error: row.lastError,
  };
}

function notFound(orderId: string): AppError {
  return new AppError(404, "ORDER_NOT_FOUND", `No order with order_id '${orderId}'`);
}

/**
 * Stores a new pending order, committed before this resolves. `order_id` is the idempotency key:
 * the unique index decides, so concurrent duplicates create one order; an identical replay returns
 * the existing order, a different payload under the same id is a 409.
 */
export async function createOrder(deps: OrderDeps, body: CreateOrderBody): Promise<CreateResult> {
  const totalCents = toCents(body.total_amount);
  if (totalCents === null) {
    throw validationError([
      { field: "total_amount", message: "must be a number from 0 to 1e12 with at most two decimals" },
    ]);
  }
  const row = {
    orderId: body.order_id,
    userId: body.user_id,
    itemIds: JSON.stringify(body.item_ids),
    totalCents,
    createdAt: deps.now(),
  };
  // null: a new order was inserted; otherwise the order that already had this order_id.
  const existing = await deps.writer.run("createOrder", row);
  if (existing === null) {
    deps.onOrderStored();
    return { created: true, order: { order_id: row.orderId, status: "pending" } };
  }
  if (
    existing.userId !== row.userId ||
    existing.itemIds !== row.itemIds ||
    existing.totalCents !== totalCents
  ) {
    throw new AppError(
      409,
      "ORDER_ID_CONFLICT",
      `order_id '${row.orderId}' already exists with a different payload`,
    );
  }
  return { created: false, order: { order_id: existing.orderId, status: existing.status } };
}

/** The order's id and status; 404 when unknown. */
export function getOrderStatus(store: OrderStore, orderId: string): OrderStatusView {
  const found = store.findOrderStatus(orderId);
  if (!found) throw notFound(orderId);
  return { order_id: found.orderId, status: found.status };
}

/** The whole order; 404 when unknown. */
export function getOrder(store: OrderStore, orderId: string): OrderView {
  const row = store.findOrder(orderId);
  if (!row) throw notFound(orderId);
  return toOrderView(row);
}

/**
 * Cancels a pending order. Cancelling a cancelled order again is a no-op; an order a worker has
 * claimed (or finished) is a 409. The guarded update runs in the same single-writer sequence as
 * the workers' claims, so the two can never both win (see writes.ts).
 */
export async function cancelOrder(deps: OrderDeps, orderId: string): Promise<OrderView> {
  return toOrderView(await deps.writer.run("cancelOrder", orderId));
}

const encodeCursor = (seq: number) => Buffer.from(String(seq)).toString("base64url");

function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, "base64url").toString() : "";
  const seq = Number(decoded);
  if (!/^\d+$/.test(decoded) || !Number.isSafeInteger(seq)) {
    throw validationError([{ field: "cursor", message: "is not a cursor this API returned" }]);
  }
  return seq;
}

/** One page of orders in creation order; the cursor is stable while new orders arrive. */
export function listOrders(store: OrderStore, query: ListOrdersQuery): OrderPage {
  const limit = query.limit ?? 50;
  const rows = store.listOrders({
    status: query.status,
    userId: query.user_id,
    afterSeq: decodeCursor(query.cursor),
    limit,
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    orders: page.map(toOrderView),
    next_cursor: rows.length > limit && last ? encodeCursor(last.seq) : null,
  };
}
