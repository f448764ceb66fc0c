/**
 * When a webhook subscription lags, written once: GET /webhooks (service.ts), the dashboard
 * (dashboard/webhooks.ts) and the age gauge of /metrics (metrics/webhooks.ts) all ask here. Pure
 * functions of a backlog and the time (lagging.test.ts).
 */
import type { Backlog } from "./store.ts";

/** How long the oldest undelivered event of `backlog` has waited at `now`, in ms (0: none pending). */
export function backlogAgeMs(backlog: Pick<Backlog, "oldestAt"> | undefined, now: number): number {
  return backlog === undefined ? 0 : Math.max(0, now - backlog.oldestAt);
}

/**
 * Whether a subscription with `backlog` (undefined: nothing pending) lags at `now`: its oldest
 * undelivered event is older than `laggingAfterMs` (WEBHOOK_LAGGING_AFTER_MS). Its receiver fails
 * or is slower than the events; nothing is dropped for it.
 */
export function isLagging(
  backlog: Pick<Backlog, "oldestAt"> | undefined,
  now: number,
  laggingAfterMs: number,
): boolean {
  return backlog !== undefined && backlogAgeMs(backlog, now) > laggingAfterMs;
}
