/**
 * Hand-over: claimed orders go into their thread's slots (their leases renewed from then on) and
 * are posted to it; if it died meanwhile, they go back to pending. A claim whose answer came back
 * late (less than half its lease left: a slow database or a busy main thread) may already have
 * been rescued by another replica: it is renewed first, and only the orders still ours start.
 */

import type { Claims, Job } from "../jobs/claims.ts";
import type { LeaseKeeper } from "../jobs/lease-keeper.ts";
import type { Order } from "../records/order.ts";
import type { QueueObserver } from "./observer.ts";
import { attemptPlan } from "./policy.ts";
import type { WorkOrder } from "./process-order.ts";
import type { Workers } from "./worker-pool.ts";

/** An order as the claims know it: by its id. */
const asJob = (order: Order): Job => ({ key: order.orderId, seq: order.seq, attempts: order.attempts });

/** What the hand-over needs. */
export type HandOverDeps = {
  claims: Claims;
  leases: Pick<LeaseKeeper, "confirm">;
  workers: Pick<Workers, "readyOwners" | "send">;
  now: () => number;
  leaseMs: number;
  /** MAX_ATTEMPTS: each order's plan (policy.ts, attemptPlan) is made from it. */
  maxAttempts: number;
  observer: QueueObserver;
  log: (level: "info" | "warn" | "error", message: string, extra?: Record<string, unknown>) => void;
  /** Puts back to pending whatever `owner` holds (its thread is gone). */
  release: (owner: string) => void;
  /** Slots came free without a result: look for orders again. */
  wake: () => void;
};

/** Hands claimed orders to the worker threads; see the file comment. */
export class HandOver {
  constructor(private readonly deps: HandOverDeps) {}

  /**
   * Takes claimed orders into this thread's slots (their leases renewed from now on) and posts them
   * to it; if it died meanwhile, they go back to pending. A claim whose answer came back late (less
   * than half its lease left: a slow database or a busy main thread) may already have been rescued
   * by another replica: it is renewed first, and only the orders still ours are started.
   */
  hand(owner: string, orders: Order[], leaseUntil: number): void {
    if (orders.length === 0) return;
    // Committed as processing, whether or not the thread is still there to take them.
    for (const order of orders) this.deps.observer.claimed(order);
    if (!this.deps.claims.isOpen(owner) || !this.deps.workers.readyOwners().includes(owner)) {
      this.deps.release(owner);
      return;
    }
    const now = this.deps.now();
    this.deps.claims.take(owner, orders.map(asJob), leaseUntil, now);
    if (leaseUntil - now >= this.deps.leaseMs / 2) this.#post(owner, orders);
    else void this.#confirmThenPost(owner, orders);
  }

  /** Renews the claims of a late pump answer, then starts the orders still held; drops the rest. */
  async #confirmThenPost(owner: string, orders: Order[]): Promise<void> {
    const kept = await this.deps.leases.confirm(owner, orders.map(asJob));
    const dropped = orders.filter((order) => !kept.has(order.orderId));
    for (const order of dropped) {
      // Not started, not recorded: whoever holds it now runs it (or its lease ends and it is rescued).
      this.deps.claims.delete(owner, order.orderId);
      this.deps.observer.claimLost();
    }
    if (dropped.length > 0) {
      this.deps.log("warn", "claims answered too late to be sure of were not started", {
        worker: owner,
        orders: dropped.length,
      });
      this.deps.wake();
    }
    const started = orders.filter((order) => kept.has(order.orderId));
    if (started.length > 0 && this.deps.claims.isOpen(owner)) this.#post(owner, started);
  }

  /** Posts held orders to their thread; if it died meanwhile, they go back to pending. */
  #post(owner: string, orders: Order[]): void {
    const work: WorkOrder[] = orders.map((order) => ({
      orderId: order.orderId,
      userId: order.userId,
      itemIds: order.itemIds,
      currency: order.currency,
      totalMinor: order.totalMinor,
      cart: order.cart,
      totalCents: order.totalMinor,
      attempt: order.attempts,
      steps: order.steps,
      lastError: order.lastError,
      plan: attemptPlan(order.attempts, this.deps.maxAttempts),
      cancelling: order.cancelRequestedAt !== null,
    }));
    if (!this.deps.workers.send(owner, work)) {
      for (const order of orders) this.deps.claims.delete(owner, order.orderId);
      this.deps.release(owner);
      return;
    }
    const handedAt = this.deps.now();
    for (const order of orders) {
      const claim = this.deps.claims.get(owner, order.orderId);
      if (claim) {
        claim.handedAt = handedAt;
        claim.activeSince = handedAt;
      }
    }
  }
}
