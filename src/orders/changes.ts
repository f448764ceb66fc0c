/**
 * The changes of one order by id that a person asks for: a client's cancel and an operator's
 * retry. Each reads the order, decides from it (its status, attempts and steps: a module's steps
 * must be undone before a cancel, and a retry of one whose undoing gave up retries that), then
 * writes guarded by what it read, reading again when the order changed under it.
 */
import { orderNotCancellable, orderNotFound, orderNotRetryable } from "../kit/errors.ts";
import * as lifecycle from "../lifecycle.ts";
import { type Order, stepStates } from "../records/order.ts";
import type { OrderView } from "./model.ts";
import type { OrderDeps } from "./service.ts";
import { toOrderView } from "./view.ts";

// How often a change reads the order again when it changed under it.
const RETRY_ROUNDS = 3;
// A plain cancel: its `from` is the status a cancel needs, its `to` the one that makes it a no-op.
const CANCELLED = lifecycle.cancelled();

/**
 * Cancels a pending order. Cancelling a cancelled order again is a no-op; an order a worker has
 * claimed (or finished) is a 409. Storage decides the transition atomically against the queue's
 * claims, so a cancel and a claim can never both win.
 */
export async function cancelOrder(
  deps: OrderDeps,
  orderId: string,
): Promise<{ accepted: boolean; order: OrderView }> {
  let order = await deps.store.findOrder(orderId);
  // Guarded by the attempts read: an attempt that started (and perhaps completed steps) between
  // the read and the write makes the change miss, and the order is read again. Each round is a
  // change someone else committed, so this ends.
  for (let round = 0; round < RETRY_ROUNDS; round++) {
    if (!order) throw orderNotFound(orderId);
    if (order.status === CANCELLED.to) return { accepted: false, order: toOrderView(order) };
    if (order.status !== CANCELLED.from) throw orderNotCancellable(orderId, order.status);
    if (order.cancelRequestedAt !== null) return { accepted: true, order: toOrderView(order) };
    const now = deps.now();
    const undo = hasCompletedSteps(order);
    const change = undo
      ? // The next claim is a compensation attempt (past MAX_ATTEMPTS), due now.
        {
          transition: lifecycle.cancelRequested(),
          runAt: now,
          attempts: Math.max(order.attempts, deps.maxAttempts),
          cancelRequestedAt: now,
        }
      : { transition: CANCELLED };
    const outcome = await deps.store.changeOrder(orderId, { ...change, ifAttempts: order.attempts }, now);
    if (outcome.changed) {
      if (undo) deps.onOrderRetried();
      return { accepted: undo, order: toOrderView(outcome.order) };
    }
    order = outcome.order;
  }
  if (!order) throw orderNotFound(orderId);
  throw orderNotCancellable(orderId, order.status);
}

/**
 * An operator's retry: a failed order goes back to pending, due now, with a fresh attempt budget
 * (attempts back to 0). Any other status is a 409: retrying is for orders that gave up. An order
 * whose compensations gave up (a module's steps: docs/STEPS.md) gets a fresh budget of compensation
 * attempts instead (attempts at MAX_ATTEMPTS, past which an attempt undoes): the retry tries the
 * compensations that failed, not the steps.
 */
export async function retryOrder(deps: OrderDeps, orderId: string): Promise<OrderView> {
  let order = await deps.store.findOrder(orderId);
  // The event records the attempts the order gave up after, so the change is guarded by them too:
  // if the order changed between the read and the write (another retry, which then failed
  // again), read it again. Each round is a change someone else committed, so this ends.
  for (let round = 0; round < RETRY_ROUNDS; round++) {
    if (!order) throw orderNotFound(orderId);
    const retried = lifecycle.retried(order.attempts);
    if (order.status !== retried.from) throw orderNotRetryable(orderId, order.status);
    const now = deps.now();
    const attempts = compensationFailed(order) ? deps.maxAttempts : 0;
    const change = { transition: retried, runAt: now, attempts, ifAttempts: order.attempts };
    const outcome = await deps.store.changeOrder(orderId, change, now);
    if (outcome.changed) {
      deps.onOrderRetried();
      return toOrderView(outcome.order);
    }
    order = outcome.order;
  }
  if (!order) throw orderNotFound(orderId);
  throw orderNotRetryable(orderId, order.status);
}

/** Whether some step of this order is left to undo: completed, or its compensation gave up. */
const hasCompletedSteps = (order: Order) =>
  [...stepStates(order.steps).values()].some(
    ({ latest }) => latest.status === "completed" || latest.status === "compensation_failed",
  );

/** Whether a step's compensation of this order gave up (its latest entry says so). */
const compensationFailed = (order: Order) =>
  [...stepStates(order.steps).values()].some(({ latest }) => latest.status === "compensation_failed");
