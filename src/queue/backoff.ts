/** Longest wait between two attempts of one order. */
export const MAX_BACKOFF_MS = 5 * 60 * 1000;

/**
 * Delay before the next attempt after `attempt` (1-based) failed: capped exponential backoff with
 * "full jitter" (a uniform pick below the capped exponential), so orders that failed together
 * don't retry together. `random` is injectable for tests.
 */
export function retryDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
