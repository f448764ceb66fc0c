/**
 * The orders feature's storage port: what the order use cases need from a database, as plain data.
 * Every adapter under src/db/ implements it; test/storage-contract.ts defines its behaviour.
 */
import type { NewOrder, Order, OrderStatus } from "../order.ts";

/** A create either inserted the order or found the one that already had its `order_id`. */
export type CreateOutcome = { created: true } | { created: false; existing: Order };

/** A cancel either moved the order pending -> cancelled now, or left it as it was (or found none). */
export type CancelOutcome =
  | { cancelled: true; order: Order }
  | { cancelled: false; order: Order | undefined };

/** Filters and page position of a listing; `afterSeq` is the decoded cursor (0: from the start). */
export type ListFilter = { status?: OrderStatus; userId?: string; afterSeq: number; limit: number };

/** What the orders feature needs from storage. */
export type OrderStore = {
  /**
   * Inserts a new pending order, due now, durable before this resolves. The unique key on
   * `order_id` decides: of concurrent creates with one id, exactly one gets `created: true`.
   */
  createOrder(order: NewOrder): Promise<CreateOutcome>;
  /**
   * pending -> cancelled, decided atomically against the queue's claims: an order a worker has
   * claimed is never cancelled, and a cancelled order is never claimed.
   */
  cancelOrder(orderId: string): Promise<CancelOutcome>;
  /** The whole order, or undefined. */
  findOrder(orderId: string): Promise<Order | undefined>;
  /** Just the id and status: the hot read of `GET /orders/:id/status`. */
  findOrderStatus(orderId: string): Promise<{ orderId: string; status: OrderStatus } | undefined>;
  /** Up to `limit` orders with `seq > afterSeq` matching the filters, in `seq` order. */
  listOrders(filter: ListFilter): Promise<Order[]>;
};
