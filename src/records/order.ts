/**
 * The order records shared by the features and the storage adapters: an order, its events, and
 * the requests and results of the orders and events ports (the statuses and event types come from
 * src/lifecycle.ts). It imports no feature, so any adapter can use it without depending on one
 * (see docs/ARCHITECTURE.md, "Storage behind ports"). The queue's records are in queue.ts beside
 * it, the dashboard's in activity.ts, the webhooks' in webhook.ts.
 */

import type { EventType, OrderStatus, Transition } from "../lifecycle.ts";

export {
  EVENT_TYPES,
  type EventType,
  ORDER_STATUSES,
  type OrderStatus,
  type Transition,
} from "../lifecycle.ts";

/** One line of an order: `unitPrice` in integer minor units of the order's currency. */
export type OrderLine = { sku: string; quantity: number; unitPrice: number; name?: string };

/**
 * What an order with lines was priced from, in integer minor units of its currency: the total is
 * Σ quantity × unitPrice + shipping + tax − discount, exactly.
 */
export type Cart = { lines: OrderLine[]; shipping: number; tax: number; discount: number };

/**
 * A step of an order's processing that completed (a module that exports `steps`, src/queue/steps.ts):
 * recorded with the order, fenced by its claim, before the next step ran, so no retry, crash or
 * lost lease runs it again. `result` is what its `run` returned (JSON, at most 16 KB); `attempt` is
 * the order's attempt that completed it.
 */
export type CompletedStep = {
  name: string;
  status: "completed";
  attempt: number;
  completedAt: number;
  result: unknown;
};

/**
 * An order as storage returns it. `seq` is the insertion order (listing keyset and FIFO
 * tie-break); times are epoch milliseconds (UTC); money is integer minor units of `currency`
 * (ISO 4217). `cart` is null for a seed-shaped order (item ids and a total, nothing priced).
 */
export type Order = {
  seq: number;
  orderId: string;
  userId: string;
  itemIds: string[];
  currency: string;
  totalMinor: number;
  cart: Cart | null;
  status: OrderStatus;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  attempts: number;
  lastError: string | null;
  /** The steps completed so far, in the order they ran (empty for a module with one `processOrder`). */
  steps: CompletedStep[];
};

/** A new order as the service computed it; storage adds the status and the queue columns. */
export type NewOrder = Pick<
  Order,
  "orderId" | "userId" | "itemIds" | "currency" | "totalMinor" | "cart" | "createdAt"
>;

/**
 * One transition of one order, recorded in the transaction that made it. `seq` is global and
 * increasing (the SSE id); `attempt` is the order's attempt count after the transition; `details`
 * holds what only some types have (the error and backoff of a failed attempt, a release's reason).
 */
export type OrderEvent = {
  seq: number;
  orderId: string;
  userId: string;
  type: EventType;
  fromStatus: OrderStatus | null;
  toStatus: OrderStatus;
  attempt: number;
  at: number;
  details: Record<string, unknown> | null;
};

/*
 * The requests and results of the orders and events ports' operations (the ports themselves live
 * with their features: orders/store.ts, events/store.ts).
 */

/** A create either inserted the order or found the one that already had its `order_id`. */
export type CreateOutcome = { created: true } | { created: false; existing: Order };

/**
 * A change of one order by id (a cancel, an operator's retry): applied only while the order is in
 * `transition.from` (and, if `ifAttempts` is set, has that many attempts); `runAt` and `attempts`
 * are set with it when given.
 */
export type OrderChange = { transition: Transition; runAt?: number; attempts?: number; ifAttempts?: number };

/** A change either applied now (the order as it became), or not (the order as it is, or none). */
export type ChangeOutcome = { changed: true; order: Order } | { changed: false; order: Order | undefined };

/** Filters and page position of a listing; `afterSeq` is the decoded cursor (0: from the start). */
export type ListFilter = { status?: OrderStatus; userId?: string; afterSeq: number; limit: number };

/** Which events to read: after position `after` (an event's `seq`; 0 is the start). */
export type EventQuery = {
  after: number;
  /** Only up to this event's position (inclusive); unset: up to the latest committed one. */
  upTo?: number;
  limit: number;
  orderId?: string;
  userId?: string;
};
