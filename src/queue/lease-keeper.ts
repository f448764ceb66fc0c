/**
 * The lease keeper: every third of LEASE_MS it renews the leases of every order this process has
 * claimed (from the pump's answer on, whether or not a worker has started it yet) and rescues
 * orders whose lease ended (their holder died: another replica, or this process before a restart).
 * An attempt whose order was not renewed (someone else holds it now), or whose last known lease ran
 * out before a renewal could extend it, has lost its claim: the dispatcher is told, to abort it.
 *
 * At most one tick runs at a time: one that finds the previous still running is skipped, logged
 * and counted (stacked renewals once took every pooled connection).
 */
import * as lifecycle from "../lifecycle.ts";
import type { Order } from "../order.ts";
import type { Claims } from "./claims.ts";
import type { QueueObserver } from "./observer.ts";
import type { QueueStore } from "./store.ts";

/** What the lease keeper needs. */
export type LeaseKeeperDeps = {
  queue: Pick<QueueStore, "renewLeases" | "releaseExpiredLeases">;
  claims: Claims;
  now: () => number;
  leaseMs: number;
  observer: QueueObserver;
  log: (level: "info" | "warn" | "error", message: string, extra?: Record<string, unknown>) => void;
  /** The claim on an attempt in progress was lost: abort it (`why` ends "its lease …"). */
  onLost: (owner: string, orderId: string, why: string) => void;
  /** Orders were rescued: they are pending again, due now. */
  onRescued: () => void;
};

/** Renews and rescues leases; see the file comment. */
export class LeaseKeeper {
  #ticking = false;

  constructor(private readonly deps: LeaseKeeperDeps) {}

  /** How often to call `tick`: a third of a lease. */
  get intervalMs(): number {
    return Math.max(100, this.deps.leaseMs / 3);
  }

  /** One tick: lose the claims whose lease ran out, renew the rest, rescue expired orders. */
  async tick(): Promise<void> {
    if (this.#ticking) {
      this.deps.observer.leaseTickSkipped();
      this.deps.log("warn", "lease tick skipped: the previous renewal or rescue is still running", {
        leaseMs: this.deps.leaseMs,
      });
      return;
    }
    this.#ticking = true;
    try {
      const now = this.deps.now();
      this.#loseExpired(now);
      await this.#renew(now);
      const rescuing = this.deps.now();
      const rescued = await this.deps.queue.releaseExpiredLeases({
        now,
        released: lifecycle.leaseExpired(),
      });
      this.deps.observer.timed("rescue", this.deps.now() - rescuing);
      this.deps.observer.released(rescued);
      if (rescued > 0) {
        this.deps.log("warn", "took up orders whose lease had expired (their holder is gone)", { rescued });
        this.deps.onRescued();
      }
    } catch (error) {
      this.deps.log("error", "could not renew leases or rescue orders", { error: String(error) });
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * Renews the claims of a pump answer that came back late, before their orders start; returns the
   * ids of those still held by `owner` (a failed renewal confirms none: they expire and are rescued).
   */
  async confirm(owner: string, orders: Order[]): Promise<Set<string>> {
    const until = this.deps.now() + this.deps.leaseMs;
    const held = orders.map((order) => ({ seq: order.seq, owner }));
    const renewed = new Set(await this.deps.queue.renewLeases({ held, until }).catch(() => []));
    const kept = new Set<string>();
    for (const order of orders) {
      const claim = this.deps.claims.get(owner, order.orderId);
      if (!claim || !renewed.has(order.seq)) continue;
      claim.leaseUntil = until;
      kept.add(order.orderId);
    }
    return kept;
  }

  /** Renews every held claim not lost; an attempt whose order was not renewed has lost its claim. */
  async #renew(now: number): Promise<void> {
    const listed = [...this.deps.claims.all()].filter(({ claim }) => !claim.lost);
    if (listed.length === 0) return;
    const until = now + this.deps.leaseMs;
    const held = listed.map(({ owner, claim }) => ({ seq: claim.seq, owner }));
    const renewed = new Set(await this.deps.queue.renewLeases({ held, until }));
    this.deps.observer.timed("renewal", this.deps.now() - now);
    for (const { owner, orderId, claim } of listed) {
      // Settled, released or lost while the renewal ran: nothing to learn from its answer.
      if (this.deps.claims.get(owner, orderId) !== claim || claim.lost) continue;
      if (renewed.has(claim.seq)) claim.leaseUntil = until;
      // Not renewed with its result in hand: the pump settling it got there first.
      else if (!claim.reported) this.#lose(owner, orderId, "was taken up by another holder");
    }
  }

  /** Claims whose known lease ended (renewals failed or came too late): someone may have rescued them. */
  #loseExpired(now: number): void {
    for (const { owner, orderId, claim } of this.deps.claims.all())
      if (!claim.lost && !claim.reported && claim.leaseUntil <= now)
        this.#lose(owner, orderId, "ran out before it could be renewed");
  }

  #lose(owner: string, orderId: string, why: string): void {
    const claim = this.deps.claims.get(owner, orderId);
    if (claim) claim.lost = true;
    this.deps.observer.claimLost();
    this.deps.log("warn", `lost the claim on an order in progress: its lease ${why}; aborting the attempt`, {
      order: orderId,
      worker: owner,
    });
    this.deps.onLost(owner, orderId, why);
  }
}
