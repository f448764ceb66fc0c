/**
 * The claims a process holds on leased jobs (orders, webhook deliveries): for each owner (a worker
 * thread, or a sender), the jobs it was given, by key. These are the slots in use, the leases to
 * renew, and the attempts whose results are awaited. Plain bookkeeping: the engine decides.
 */

/** A job as a claim knows it: its key among its owner's (an order id), its row's seq, its attempts. */
export type Job = { key: string; seq: number; attempts: number };

/**
 * One held job: what its result needs to be recorded, when it was handed over, since when it has
 * been on its current step (the hand-over, or its last recorded step: a deadline counts from
 * there), until when its lease is known to hold (the claim's or the latest renewal's), whether its result has arrived, and
 * whether its claim was lost (then its result is not recorded: the attempt only frees its slot when
 * it ends).
 */
export type Claim = {
  seq: number;
  attempts: number;
  handedAt: number;
  activeSince: number;
  leaseUntil: number;
  reported: boolean;
  lost: boolean;
};

/** The claims of every owner; see the file comment. */
export class Claims {
  readonly #byOwner = new Map<string, Map<string, Claim>>();

  /** An owner is up: it holds nothing yet. */
  open(owner: string): void {
    this.#byOwner.set(owner, new Map());
  }

  /** An owner is gone: forget what it held. */
  close(owner: string): void {
    this.#byOwner.delete(owner);
  }

  /** Whether `owner` is up. */
  isOpen(owner: string): boolean {
    return this.#byOwner.has(owner);
  }

  /** Takes `jobs`, just claimed for `owner` with leases until `leaseUntil`, into its slots. */
  take(owner: string, jobs: Job[], leaseUntil: number, now: number): void {
    const claims = this.#byOwner.get(owner);
    for (const job of jobs)
      claims?.set(job.key, {
        seq: job.seq,
        attempts: job.attempts,
        handedAt: now,
        activeSince: now,
        leaseUntil,
        reported: false,
        lost: false,
      });
  }

  get(owner: string, key: string): Claim | undefined {
    return this.#byOwner.get(owner)?.get(key);
  }

  delete(owner: string, key: string): void {
    this.#byOwner.get(owner)?.delete(key);
  }

  /** How many jobs `owner` holds. */
  count(owner: string): number {
    return this.#byOwner.get(owner)?.size ?? 0;
  }

  /** How many jobs every owner holds together. */
  total(): number {
    let count = 0;
    for (const claims of this.#byOwner.values()) count += claims.size;
    return count;
  }

  /** Every held claim with its owner and key. */
  *all(): Generator<{ owner: string; key: string; claim: Claim }> {
    for (const [owner, claims] of this.#byOwner)
      for (const [key, claim] of claims) yield { owner, key, claim };
  }

  /** The owners that hold at least one job. */
  busyOwners(): string[] {
    return [...this.#byOwner].filter(([, claims]) => claims.size > 0).map(([owner]) => owner);
  }
}
