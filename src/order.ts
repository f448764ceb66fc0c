/**
 * The order vocabulary shared by the features and the storage adapters: the statuses and the plain
 * records that cross the storage ports. It imports nothing, so any adapter can use it without
 * depending on a feature (see docs/ARCHITECTURE.md, "Storage behind ports").
 */

/** Every status an order can be in, in lifecycle order: the one list every other one derives from. */
export const ORDER_STATUSES = ["pending", "processing", "completed", "failed", "cancelled"] as const;
/** One of `ORDER_STATUSES`. */
export type OrderStatus = (typeof ORDER_STATUSES)[number];

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
 * Every kind of order event, one per transition: `attempt_failed` is a failed attempt that will be
 * retried, `failed` the last allowed one; `retried` is an operator's retry of a failed order;
 * `released` puts a processing order back to pending because its holder is gone (a worker thread
 * died, the process restarted after a crash, or the lease of a lost replica ran out).
 */
export const EVENT_TYPES = [
  "created",
  "claimed",
  "completed",
  "attempt_failed",
  "failed",
  "cancelled",
  "retried",
  "released",
] as const;
/** One of `EVENT_TYPES`. */
export type EventType = (typeof EVENT_TYPES)[number];

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

/** A cancel either moved the order pending -> cancelled now, or left it as it was (or found none). */
export type CancelOutcome =
  | { cancelled: true; order: Order }
  | { cancelled: false; order: Order | undefined };

/** A retry either moved the order failed -> pending now, or left it as it was (or found none). */
export type RetryOutcome = { retried: true; order: Order } | { retried: false; order: Order | undefined };

/** Filters and page position of a listing; `afterSeq` is the decoded cursor (0: from the start). */
export type ListFilter = { status?: OrderStatus; userId?: string; afterSeq: number; limit: number };

/**
 * What to record for an order a worker slot held, as the dispatcher decided it. Each is guarded by
 * the claim: it changes the order only while it is `processing` and held by `owner`, so a result
 * from a slot that lost its claim (its thread died and the order was released) changes nothing.
 */
export type Settlement =
  | { kind: "completed"; seq: number; owner: string }
  | { kind: "retry"; seq: number; owner: string; runAt: number; error: string }
  | { kind: "failed"; seq: number; owner: string; error: string };

/** Fill one worker slot: claim up to `limit` due orders for `owner`. */
export type ClaimRequest = { owner: string; limit: number };

/**
 * `claimed[i]` answers `claims[i]`, oldest due first (by `runAt`, then `seq`). `nextDueAt` is when
 * the earliest pending order becomes due (null: none pending) when some slot got fewer orders than
 * it asked for, and undefined when every slot got all it asked for (call again as slots free up).
 */
export type SettleAndClaimResult = { claimed: Order[][]; nextDueAt: number | null | undefined };

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
