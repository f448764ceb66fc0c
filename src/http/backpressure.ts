/**
 * Backpressure on intake: past MAX_PENDING_ORDERS pending orders, a new order is refused with 503
 * OVERLOADED and nothing is stored, while everything else works as usual: a replay of an existing
 * order (200, or 409 for another payload), reads and cancels.
 */
import { overloaded } from "../kit/errors.ts";
import type { CreateOutcome, OrderStore } from "../orders/store.ts";
import type { NewOrder, Transition } from "../records/order.ts";

/** Seconds a refused client is told to wait before it retries. */
export const OVERLOADED_RETRY_AFTER_S = 1;

/**
 * What backpressure tells the count of an order it lets through: its write began (`writing`),
 * then ended with a new order (`created`; a failed write too, as it may have committed) or found
 * the order already there (`existed`: a replay, nothing new).
 */
export type Admission = "writing" | "inserted" | "existed";

/**
 * The pending orders as this process knows them: the last count read, plus the new orders it let
 * through since that read began (written or still being written). Called bare it answers (and may
 * start a new read); called with an `Admission` it records it first. Synchronous, so that a check
 * and the admission after it cannot be split by another request.
 */
export type PendingOrders = (admission?: Admission) => number;

/**
 * The orders port with the bound on its `createOrder`. Under the bound it costs one call of
 * `pendingOrders` (a cached count plus what this process let through since) and tells it of the
 * write. Over it, the order is looked up first: an existing one is answered from what is stored
 * (the service then decides 200 or 409, as for any replay); a new one is refused before anything
 * is written. So the backlog stays within the bound, whatever the burst, except for orders that
 * others added since the count was read (other replicas: each bounds what it lets through itself).
 */
export function boundPendingOrders(
  store: OrderStore,
  pendingOrders: PendingOrders,
  maxPending: number,
): OrderStore {
  return {
    ...store,
    createOrder: async (order, created) => {
      // No await between the check and `writing`: concurrent requests cannot both take the last place.
      if (pendingOrders() < maxPending) return createCounted(store, pendingOrders, order, created);
      const existing = await store.findOrder(order.orderId);
      if (!existing) throw overloaded();
      return { created: false, existing };
    },
  };
}

/** Writes an order let through the bound, telling `pendingOrders` when it begins and how it ends. */
async function createCounted(
  store: OrderStore,
  pendingOrders: PendingOrders,
  order: NewOrder,
  transition: Transition,
): Promise<CreateOutcome> {
  pendingOrders("writing");
  let created = true; // until the store says it was a replay: a failed write may have committed
  try {
    const outcome = await store.createOrder(order, transition);
    created = outcome.created;
    return outcome;
  } finally {
    pendingOrders(created ? "inserted" : "existed");
  }
}

/**
 * The pending orders for backpressure (`PendingOrders`): the last count `countPending` read, plus
 * the new orders this process let through since that read began. The count is read at most every 100 ms (a read
 * of the running totals), first when the service is built, and never waited for. An order whose
 * write answered before a read began is in that read; one written or still being written since
 * may or may not be, so it is added: the sum is high by a few at worst (until the next read),
 * never low by what this process took. Orders that left pending since (claimed, cancelled) are
 * seen at the next read. On PostgreSQL each replica counts only what it let through itself: the
 * bound then holds per replica, within what each took since its last read.
 */
export function trackPendingOrders(
  countPending: () => Promise<number>,
  onReadFailed: (error: unknown) => void,
): PendingOrders {
  let counted = 0; // pending orders in the last count read
  let createdBeforeCount = 0; // `created` when that read began
  let created = 0; // new orders this process wrote (and failed writes: they may have committed)
  let writing = 0; // orders let through whose write has not answered yet
  let readAt = Number.NEGATIVE_INFINITY;
  let reading = false;
  const read = async () => {
    reading = true;
    const createdBefore = created;
    try {
      counted = await countPending();
      createdBeforeCount = createdBefore;
    } catch (error) {
      // Not again before the next 100 ms: while the database is down every request would retry.
      onReadFailed(error);
    } finally {
      readAt = performance.now();
      reading = false;
    }
  };
  void read();
  return (admission) => {
    if (admission === "writing") writing++;
    else if (admission !== undefined) {
      writing--;
      if (admission === "inserted") created++;
    } else if (!reading && performance.now() - readAt > 100) void read();
    return counted + (created - createdBeforeCount) + writing;
  };
}
