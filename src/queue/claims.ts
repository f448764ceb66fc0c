/**
 * The claims a process holds: for each worker thread (its owner id), the orders it was given, by
 * order id. These are the slots in use, the leases to renew, and the attempts whose results the
 * dispatcher waits for. Plain bookkeeping: the dispatcher and the lease keeper decide what to do.
 */
import type { Order } from "../order.ts";

/**
 * One held order: what its result needs to be recorded, when it was handed over, until when its
 * lease is known to hold (the claim's or the latest renewal's), whether its result has arrived,
 * and whether its claim was lost (then its result is not recorded: the attempt only frees its slot
 * when it ends).
 */
export type Claim = {
  seq: number;
  attempts: number;
  handedAt: number;
  leaseUntil: number;
  reported: boolean;
  lost: boolean;
};

/** The claims of every worker thread; see the file comment. */
export class Claims {
  readonly #byOwner = new Map<string, Map<string, Claim>>();

  /** A thread is up: it holds nothing yet. */
  open(owner: string): void {
    this.#byOwner.set(owner, new Map());
  }

  /** A thread is gone: forget what it held. */
  close(owner: string): void {
    this.#byOwner.delete(owner);
  }

  /** Whether `owner` is a thread that is up. */
  isOpen(owner: string): boolean {
    return this.#byOwner.has(owner);
  }

  /** Takes `orders`, just claimed for `owner` with leases until `leaseUntil`, into its slots. */
  take(owner: string, orders: Order[], leaseUntil: number, now: number): void {
    const claims = this.#byOwner.get(owner);
    for (const order of orders)
      claims?.set(order.orderId, {
        seq: order.seq,
        attempts: order.attempts,
        handedAt: now,
        leaseUntil,
        reported: false,
        lost: false,
      });
  }

  get(owner: string, orderId: string): Claim | undefined {
    return this.#byOwner.get(owner)?.get(orderId);
  }

  delete(owner: string, orderId: string): void {
    this.#byOwner.get(owner)?.delete(orderId);
  }

  /** How many orders `owner` holds. */
  count(owner: string): number {
    return this.#byOwner.get(owner)?.size ?? 0;
  }

  /** How many orders every thread holds together. */
  total(): number {
    let count = 0;
    for (const claims of this.#byOwner.values()) count += claims.size;
    return count;
  }

  /** Every held claim with its owner and order id. */
  *all(): Generator<{ owner: string; orderId: string; claim: Claim }> {
    for (const [owner, claims] of this.#byOwner)
      for (const [orderId, claim] of claims) yield { owner, orderId, claim };
  }

  /** The owners that hold at least one order. */
  busyOwners(): string[] {
    return [...this.#byOwner].filter(([, claims]) => claims.size > 0).map(([owner]) => owner);
  }
}
