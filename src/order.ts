/**
 * The order vocabulary shared by the features and the storage adapters: the statuses and the plain
 * records that cross the storage ports. It imports nothing, so any adapter can use it without
 * depending on a feature (see docs/ARCHITECTURE.md, "Storage behind ports").
 */

import type { EventType, OrderStatus, Transition } from "./lifecycle.ts";

export {
  EVENT_TYPES,
  type EventType,
  ORDER_STATUSES,
  type OrderStatus,
  type Transition,
} from "./lifecycle.ts";

/**
 * An order as storage returns it. `seq` is the insertion order (listing keyset and FIFO
 * tie-break); times are epoch milliseconds (UTC); money is integer cents.
 */
export type Order = {
  seq: number;
  orderId: string;
  userId: string;
  itemIds: string[];
  totalCents: number;
  status: OrderStatus;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  attempts: number;
  lastError: string | null;
};

/** A new order as the service computed it; storage adds the status and the queue columns. */
export type NewOrder = Pick<Order, "orderId" | "userId" | "itemIds" | "totalCents" | "createdAt">;

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

/**
 * The records that cross the storage ports with the ones above: requests and results of the
 * ports' operations (the ports themselves live with their features: orders/store.ts,
 * queue/store.ts, events/store.ts). Here so that adapters use them without importing a feature.
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

/**
 * What to record for an order a worker slot held, as the queue decided it (src/queue/policy.ts):
 * its transition, and the columns it sets besides the status (unset ones keep their value). Each
 * is fenced by the claim: it changes the order only while it is in `transition.from` and held by
 * `owner`, so a result from a slot that lost its claim (its thread died and the order was
 * released) changes nothing. Settling ends the hold (no owner, no lease).
 */
export type Settlement = {
  seq: number;
  owner: string;
  transition: Transition;
  runAt?: number;
  lastError?: string;
  completedAt?: number;
};

/**
 * One order wanted by a worker slot (`owner`), taken with `transition` (every request of one call
 * has the same `from` and `to`). A claimed order gets `attempts` + 1, `startedAt` = now, and is
 * held by its owner until the lease ends.
 */
export type ClaimRequest = { owner: string; transition: Transition };

/**
 * `claimed[i]` answers `claims[i]`: the due orders, oldest first (by `runAt`, then `seq`), one per
 * request until none is left. `nextDueAt` is when the earliest pending order becomes due (null:
 * none pending) when fewer orders than requests were claimed, and undefined when every request got
 * one (call again as slots free up).
 */
export type SettleAndClaimResult = { claimed: Order[]; nextDueAt: number | null | undefined };

/** Which events to read: after position `after` (an event's `seq`; 0 is the start). */
export type EventQuery = {
  after: number;
  /** Only up to this event's position (inclusive); unset: up to the latest committed one. */
  upTo?: number;
  limit: number;
  orderId?: string;
  userId?: string;
};

/**
 * One replica's recent queue activity, as it publishes it for the dashboard every second
 * (src/dashboard/window.ts): latency counts per bucket over the last minute, which add up across
 * replicas, and running totals since the replica started.
 */
export type ActivityReport = {
  replica: string;
  at: number;
  waitBuckets: number[];
  processingBuckets: number[];
  retriesTotal: number;
  failuresTotal: number;
  slotsBusy: number;
  slotsCapacity: number;
};
