/**
 * The orders feature's storage port: what the order use cases need from a database, as plain data.
 * Every write records its transition as an event in the same transaction (see OrderEvent).
 * Every adapter under src/db/ implements it; test/storage-contract.ts defines its behaviour.
 */
import type {
  CancelOutcome,
  CreateOutcome,
  ListFilter,
  NewOrder,
  Order,
  OrderEvent,
  OrderStatus,
  RetryOutcome,
} from "../order.ts";

export type { CancelOutcome, CreateOutcome, ListFilter, RetryOutcome };

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
  cancelOrder(orderId: string, now: number): Promise<CancelOutcome>;
  /** An operator's retry: failed -> pending, due now, attempts back to 0 (a fresh budget). */
  retryOrder(orderId: string, now: number): Promise<RetryOutcome>;
  /** The order's events in `seq` order (none: no such order). */
  listOrderEvents(orderId: string): Promise<OrderEvent[]>;
  /** The whole order, or undefined. */
  findOrder(orderId: string): Promise<Order | undefined>;
  /** Just the id and status: the hot read of `GET /orders/:id/status`. */
  findOrderStatus(orderId: string): Promise<{ orderId: string; status: OrderStatus } | undefined>;
  /** Up to `limit` orders with `seq > afterSeq` matching the filters, in `seq` order. */
  listOrders(filter: ListFilter): Promise<Order[]>;
};
