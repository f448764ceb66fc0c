/**
 * When a failed attempt of a job (an order, a webhook delivery) runs again, if it does: capped
 * exponential backoff with full jitter, and a budget of attempts. Pure functions of their inputs.
 */

/** Longest wait between two attempts of one job. */
export const MAX_BACKOFF_MS = 5 * 60 * 1000;

/**
 * Delay before the next attempt after `attempt` (1-based) failed: capped exponential backoff with
 * "full jitter" (a uniform pick below the capped exponential), so jobs that failed together
 * don't retry together. `random` is injectable for tests.
 */
export function retryDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** How many attempts a job gets and how far apart they start. */
export type RetryRules = { maxAttempts: number; retryBaseMs: number };

/**
 * After attempt number `attempt` failed at `now`: when it runs again and after how long, or
 * undefined when that was the last allowed attempt (the job gives up).
 */
export function retryAfter(
  attempt: number,
  now: number,
  rules: RetryRules,
): { runAt: number; backoffMs: number } | undefined {
  if (attempt >= rules.maxAttempts) return undefined;
  const backoffMs = retryDelayMs(attempt, rules.retryBaseMs);
  return { runAt: now + backoffMs, backoffMs };
}
