/**
 * A per-client request limit in fixed one-second windows. Written here rather than taken from
 * elysia-rate-limit 4.6.3, which, measured on our app: decides in `onBeforeHandle`, after the body
 * is read and parsed (a limited client still costs its parse); counts a 404 thrown by a handler
 * twice (its hook, then its `onError`); answers its 429 from `onError` while `set.status` still says
 * 404, so access logs and metrics recorded the wrong status; and its debug log prints the client key.
 * This one runs in the policy's `onRequest`, before any parsing, and counts each request once.
 */

/** The decision for one request, with what the RateLimit-* headers of the IETF draft say. */
export type RateVerdict = { allowed: boolean; limit: number; remaining: number; resetS: number };

/**
 * A fixed-window counter per client. Windows are aligned to the clock's seconds and the whole table
 * is dropped when a new one starts, so memory holds only the clients of the current second.
 */
export class RateLimiter {
  private counts = new Map<string, number>();
  private window = 0;

  constructor(private readonly perSecond: number) {}

  /** Counts one request of `client` at `now` (epoch ms) and says whether it is within the limit. */
  take(client: string, now: number): RateVerdict {
    const window = Math.floor(now / 1000);
    if (window !== this.window) {
      this.window = window;
      this.counts.clear();
    }
    const count = (this.counts.get(client) ?? 0) + 1;
    this.counts.set(client, count);
    return {
      allowed: count <= this.perSecond,
      limit: this.perSecond,
      remaining: Math.max(this.perSecond - count, 0),
      // Whole seconds until the window ends, at least 1 (a header of 0 would invite a retry storm).
      resetS: 1,
    };
  }
}
