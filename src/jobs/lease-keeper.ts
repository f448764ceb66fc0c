/**
 * The lease keeper of a leased-job engine (orders, webhook deliveries): every third of LEASE_MS it
 * renews the leases of every job this process has claimed (from the claim's answer on, whether or
 * not the job has started yet) and rescues jobs whose lease ended (their holder died: another
 * replica, or this process before a restart). An attempt whose job was not renewed (someone else
 * holds it now), or whose last known lease ran out before a renewal could extend it, has lost its
 * claim: the engine is told, to abort it; its result is not recorded.
 *
 * At most one tick runs at a time: one that finds the previous still running is skipped, logged
 * and counted (stacked renewals once took every pooled connection).
 */
import type { Claims, Job } from "./claims.ts";

/** The leases in storage. */
export type LeaseStore = {
  /** Extends to `until` each listed lease its owner still holds; returns the seqs it extended. */
  renewLeases(args: { held: { seq: number; owner: string }[]; until: number }): Promise<number[]>;
  /**
   * Rescue: puts back every job held past its lease; returns how many. Absent where the claim
   * itself takes up expired jobs.
   */
  rescue?: (now: number) => Promise<number>;
};

/** What the lease keeper tells as it happens (metrics). */
export type LeaseObserver = {
  leaseTickSkipped: () => void;
  claimLost: () => void;
  timed: (call: "renewal" | "rescue", ms: number) => void;
  released: (count: number) => void;
};

/** An observer that tells nothing (an engine with no lease metrics). */
export const UNOBSERVED: LeaseObserver = {
  leaseTickSkipped: () => {},
  claimLost: () => {},
  timed: () => {},
  released: () => {},
};

/** What the lease keeper needs. */
export type LeaseKeeperDeps = {
  store: LeaseStore;
  claims: Claims;
  now: () => number;
  leaseMs: number;
  observer: LeaseObserver;
  log: (level: "info" | "warn" | "error", message: string, extra?: Record<string, unknown>) => void;
  /** What the jobs are, for the log ("orders", "webhook deliveries"). */
  jobs: string;
  /** The claim on an attempt in progress was lost: abort it (`why` ends "its lease …"). */
  onLost: (owner: string, key: string, why: string) => void;
  /** Jobs were rescued: they are due again now. */
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

  /** One tick: lose the claims whose lease ran out, renew the rest, rescue expired jobs. */
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
      await this.#rescue(now);
    } catch (error) {
      this.deps.log("error", `could not renew leases or rescue ${this.deps.jobs}`, { error: String(error) });
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * Renews the claims of a claim's answer that came back late, before their jobs start; returns the
   * keys of those still held by `owner` (a failed renewal confirms none: they expire and are rescued).
   */
  async confirm(owner: string, jobs: Job[]): Promise<Set<string>> {
    const until = this.deps.now() + this.deps.leaseMs;
    const held = jobs.map((job) => ({ seq: job.seq, owner }));
    const renewed = new Set(await this.deps.store.renewLeases({ held, until }).catch(() => []));
    const kept = new Set<string>();
    for (const job of jobs) {
      const claim = this.deps.claims.get(owner, job.key);
      if (!claim || !renewed.has(job.seq)) continue;
      claim.leaseUntil = until;
      kept.add(job.key);
    }
    return kept;
  }

  async #rescue(now: number): Promise<void> {
    if (!this.deps.store.rescue) return;
    const rescued = await this.deps.store.rescue(now);
    this.deps.observer.timed("rescue", this.deps.now() - now);
    this.deps.observer.released(rescued);
    if (rescued > 0) {
      this.deps.log("warn", `took up ${this.deps.jobs} whose lease had expired (their holder is gone)`, {
        rescued,
      });
      this.deps.onRescued();
    }
  }

  /** Renews every held claim not lost; an attempt whose job was not renewed has lost its claim. */
  async #renew(now: number): Promise<void> {
    const listed = [...this.deps.claims.all()].filter(({ claim }) => !claim.lost);
    if (listed.length === 0) return;
    const until = now + this.deps.leaseMs;
    const held = listed.map(({ owner, claim }) => ({ seq: claim.seq, owner }));
    const renewed = new Set(await this.deps.store.renewLeases({ held, until }));
    this.deps.observer.timed("renewal", this.deps.now() - now);
    for (const { owner, key, claim } of listed) {
      // Settled, released or lost while the renewal ran: nothing to learn from its answer.
      if (this.deps.claims.get(owner, key) !== claim || claim.lost) continue;
      if (renewed.has(claim.seq)) claim.leaseUntil = until;
      // Not renewed with its result in hand: the settlement got there first.
      else if (!claim.reported) this.#lose(owner, key, "was taken up by another holder");
    }
  }

  /** Claims whose known lease ended (renewals failed or came too late): someone may have rescued them. */
  #loseExpired(now: number): void {
    for (const { owner, key, claim } of this.deps.claims.all())
      if (!claim.lost && !claim.reported && claim.leaseUntil <= now)
        this.#lose(owner, key, "ran out before it could be renewed");
  }

  #lose(owner: string, key: string, why: string): void {
    const claim = this.deps.claims.get(owner, key);
    if (claim) claim.lost = true;
    this.deps.observer.claimLost();
    this.deps.log("warn", `lost the claim on a job in progress: its lease ${why}; aborting the attempt`, {
      jobs: this.deps.jobs,
      job: key,
      owner,
    });
    this.deps.onLost(owner, key, why);
  }
}
