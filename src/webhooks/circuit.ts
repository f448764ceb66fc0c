/**
 * A breaker per subscription, so a receiver that is down costs one probe now and then instead of a
 * failed attempt for every event. After OPEN_AFTER failed attempts in a row to one subscription
 * its deliveries wait: those claimed stay queued (their leases renewed), claims take no more of it,
 * for a pause of FIRST_PAUSE_MS that doubles with each failed probe up to MAX_PAUSE_MS. Then one
 * attempt at a time probes it, and the first that succeeds closes the breaker. Nothing is dropped
 * and no attempt is counted for waiting: deliveries keep their own backoff and attempts, and the
 * subscription shows as lagging (`GET /webhooks`) while its backlog ages. Measured before it
 * (docs/PERFORMANCE.md): a dead receiver beside a fast one retried every event 3-4 times within
 * seconds, and on two cores the fast one's deliveries fell to 0.85× with a lag of 2 s.
 *
 * A failure is any attempt that did not get a 2xx: a receiver answering 404 or 410 to everything
 * is as gone as one refusing connections. One replica's breakers are its own.
 */

/** Failed attempts in a row that open a subscription's breaker. */
export const OPEN_AFTER = 5;
export const FIRST_PAUSE_MS = 1000;
export const MAX_PAUSE_MS = 60_000;

type Breaker = { failures: number; openUntil: number; pauseMs: number };

export class Breakers {
  readonly #of = new Map<string, Breaker>();

  /** `onPause` hears of each pause a failure opens (for the log). */
  constructor(
    private readonly now: () => number,
    private readonly onPause: (webhookId: string, pauseMs: number) => void = () => {},
  ) {}

  /** Attempts to `webhookId` that may be in flight now: `bound` when closed, 0 while paused, 1 probing. */
  allowance(webhookId: string, bound: number): number {
    const breaker = this.#of.get(webhookId);
    if (!breaker || breaker.failures < OPEN_AFTER) return bound;
    return this.now() < breaker.openUntil ? 0 : 1;
  }

  /** The subscriptions whose pause is on now: claims take none of their deliveries. */
  paused(): string[] {
    return [...this.#of.keys()].filter((webhookId) => this.allowance(webhookId, 1) === 0);
  }

  /** An attempt to `webhookId` ended; returns the pause (ms) it opened, if it opened one. */
  record(webhookId: string, ok: boolean): number | undefined {
    if (ok) {
      this.#of.delete(webhookId);
      return undefined;
    }
    const breaker = this.#of.get(webhookId) ?? { failures: 0, openUntil: 0, pauseMs: 0 };
    this.#of.set(webhookId, breaker);
    breaker.failures++;
    if (breaker.failures < OPEN_AFTER) return undefined;
    // Open, or a probe failed: pause, twice as long as last time.
    if (this.now() < breaker.openUntil) return undefined; // attempts started before it opened
    breaker.pauseMs = Math.min(MAX_PAUSE_MS, breaker.pauseMs === 0 ? FIRST_PAUSE_MS : breaker.pauseMs * 2);
    breaker.openUntil = this.now() + breaker.pauseMs;
    this.onPause(webhookId, breaker.pauseMs);
    return breaker.pauseMs;
  }
}
