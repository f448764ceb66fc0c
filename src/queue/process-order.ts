/**
 * The processing step, run inside a worker thread: the one function to replace with a real
 * fulfilment call, either here or with `PROCESS_ORDER_MODULE` (a module exporting a function
 * `processOrder` of the same shape, or `steps`: steps.ts). It gets the order and an AbortSignal (raised when the attempt
 * passes PROCESSING_TIMEOUT_MS, or when shutdown runs out of time) and either resolves (the order is
 * completed) or throws (the attempt failed and is retried with backoff until MAX_ATTEMPTS).
 */
import type { Cart, StepEntry } from "../records/order.ts";
import type { AttemptPlan } from "./policy.ts";

/**
 * The order as a worker sees it: money in integer minor units of `currency`; `cart` (its priced
 * lines and charges) is null for a seed-shaped order.
 */
export type WorkOrder = {
  orderId: string;
  userId: string;
  itemIds: string[];
  currency: string;
  totalMinor: number;
  cart: Cart | null;
  /** Deprecated: `totalMinor`, named when every order was in cents. */
  totalCents: number;
  attempt: number;
  /** Its steps' outcomes recorded before this attempt, oldest first (a module's `steps`: steps.ts). */
  steps: StepEntry[];
  /** Why the previous attempt failed, if one did. */
  lastError: string | null;
  /** Where this attempt stands in the order's budget (policy.ts; only a module's steps use it). */
  plan: AttemptPlan;
  /** A client cancelled it with completed steps: this attempt undoes them (a module's steps). */
  cancelling: boolean;
};

/** The processing function's shape. */
export type ProcessOrder = (order: WorkOrder, signal: AbortSignal) => Promise<void>;

/**
 * How orders are processed: the simulated fulfilment's time and failure rate, or `module`, a path
 * to a module whose `processOrder` replaces it; `timeoutMs` is each attempt's deadline.
 */
export type ProcessingSettings = {
  processingTimeMs: number;
  failureRate: number;
  timeoutMs: number;
  module?: string;
};

/** Waits `ms`, or rejects as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The default processing: simulates an I/O-bound fulfilment call of `processingTimeMs` that fails
 * a `failureRate` fraction of attempts.
 */
export function createProcessOrder(settings: ProcessingSettings): ProcessOrder {
  return async function processOrder(_order: WorkOrder, signal: AbortSignal): Promise<void> {
    await sleep(settings.processingTimeMs, signal);
    if (settings.failureRate > 0 && Math.random() < settings.failureRate) {
      throw new Error("simulated fulfilment failure");
    }
  };
}
