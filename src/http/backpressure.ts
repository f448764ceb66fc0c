/**
 * Backpressure on intake: past MAX_PENDING_ORDERS pending orders, a new order is refused with 503
 * OVERLOADED and nothing is stored, while everything else works as usual: a replay of an existing
 * order (200, or 409 for another payload), reads and cancels.
 */
import { overloaded } from "../errors.ts";
import type { OrderStore } from "../orders/store.ts";

/** Seconds a refused client is told to wait before it retries. */
export const OVERLOADED_RETRY_AFTER_S = 1;

/**
 * The orders port with the bound on its `createOrder`. Under the bound it costs one call of
 * `pendingOrders` (a cached count). Over it, the order is looked up first: an existing one is
 * answered from what is stored (the service then decides 200 or 409, as for any replay); a new
 * one is refused before anything is written. The count is at most ~100 ms old, so a burst can go
 * past the bound by what arrives in that time: it bounds the backlog, not to the order.
 */
export function boundPendingOrders(
  store: OrderStore,
  pendingOrders: () => number,
  maxPending: number,
): OrderStore {
  return {
    ...store,
    createOrder: async (order) => {
      if (pendingOrders() < maxPending) return store.createOrder(order);
      const existing = await store.findOrder(order.orderId);
      if (!existing) throw overloaded();
      return { created: false, existing };
    },
  };
}
