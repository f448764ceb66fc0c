/**
 * The orders feature's storage port: what the order use cases need from a database, as plain data.
 * Every write records its transition as an event in the same transaction (see OrderEvent).
 * Every adapter under src/db/ implements it; test/storage-contract.ts defines its behaviour.
 */
import type {
  ChangeOutcome,
  CreateOutcome,
  ListFilter,
  NewOrder,
  Order,
  OrderChange,
  OrderEvent,
  OrderStatus,
  Transition,
} from "../records/order.ts";

export type { ChangeOutcome, CreateOutcome, ListFilter, OrderChange };

/** What the orders feature needs from storage. */
export type OrderStore = {
  /**
   * Inserts a new order in `created.to`, due now, recording `created`, durable before this
   * resolves. The unique key on `order_id` decides: of concurrent creates with one id, exactly one
   * gets `created: true`.
   */
  createOrder(order: NewOrder, created: Transition): Promise<CreateOutcome>;
  /**
   * Applies `change` to the order if it is in `change.transition.from` (and has `ifAttempts`
   * attempts, when set), recording its event at `now`; decided atomically against the queue's
   * claims: of a cancel and a claim of one pending order, exactly one wins.
   */
  changeOrder(orderId: string, change: OrderChange, now: number): Promise<ChangeOutcome>;
  /** The order's events in `seq` order (none: no such order). */
  listOrderEvents(orderId: string): Promise<OrderEvent[]>;
  /** The whole order, or undefined. */
  findOrder(orderId: string): Promise<Order | undefined>;
  /** Just the id and status: the hot read of `GET /orders/:id/status`. */
  findOrderStatus(orderId: string): Promise<{ orderId: string; status: OrderStatus } | undefined>;
  /** Up to `limit` orders with `seq > afterSeq` matching the filters, in `seq` order. */
  listOrders(filter: ListFilter): Promise<Order[]>;
};
