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
 * Where a step of an order stands: done, failed on the order's last forward attempt (the order
 * fails, or undoes its completed steps), undone, or its undoing gave up.
 */
export const STEP_STATUSES = ["completed", "failed", "compensated", "compensation_failed"] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/**
 * One outcome of one step of an order's processing (a module that exports `steps`,
 * src/queue/steps.ts), recorded with the order, fenced by its claim, before anything after it ran:
 * a step completed (`result`: what its `run` returned, JSON, at most 16 KB), failed on the last
 * forward attempt (`error`), compensated (its `compensate` undid it), or its compensation gave up
 * (`error`). Entries are appended, never
 * changed: a step's state is its latest entry (`stepStates`). `attempt` is the order's attempt that
 * recorded it; `at` when (epoch ms).
 */
export type StepEntry = {
  name: string;
  status: StepStatus;
  attempt: number;
  at: number;
  result?: unknown;
  error?: string;
};

/**
 * Each step's state, by name, in the order the steps first appear: its latest entry, and the
 * latest entry that completed it (what `result` a later step gets, and when it was done).
 */
export function stepStates(entries: StepEntry[]): Map<string, { latest: StepEntry; completed?: StepEntry }> {
  const states = new Map<string, { latest: StepEntry; completed?: StepEntry }>();
  for (const entry of entries) {
    const completed = entry.status === "completed" ? entry : states.get(entry.name)?.completed;
    states.set(entry.name, { latest: entry, completed });
  }
  return states;
}

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
  /** Its steps' outcomes as recorded, oldest first (empty for a module with one `processOrder`). */
  steps: StepEntry[];
  /**
   * When a client cancelled it while it had completed steps to undo (a module's steps): it is
   * cancelled once they are compensated. Null otherwise.
   */
  cancelRequestedAt: number | null;
  /**
   * The W3C traceparent of the request that created it, when tracing was on (src/tracing/): its
   * attempts and webhook deliveries are spans of that trace. Null otherwise.
   */
  traceParent: string | null;
};

/** A new order as the service computed it; storage adds the status and the queue columns. */
export type NewOrder = Pick<
  Order,
  "orderId" | "userId" | "itemIds" | "currency" | "totalMinor" | "cart" | "createdAt"
> & { traceParent?: string | null };

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
 * `transition.from` (and, if `ifAttempts` is set, has that many attempts); `runAt`, `attempts` and
 * `cancelRequestedAt` are set with it when given.
 */
export type OrderChange = {
  transition: Transition;
  runAt?: number;
  attempts?: number;
  ifAttempts?: number;
  /** Sets `cancelRequestedAt`. */
  cancelRequestedAt?: number;
};

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
