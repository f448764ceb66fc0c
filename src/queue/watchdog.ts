/**
 * The deadline watchdog: finds worker threads holding an attempt well past its deadline without a
 * word. Their own deadline timer would have reported it, so processOrder blocks the thread. Those
 * attempts are reported failed (retried with backoff, `failed` after MAX_ATTEMPTS, so an order that
 * always blocks cannot loop forever), and the dispatcher replaces the thread once they are
 * recorded. A thread found so takes no more orders meanwhile.
 */
import type { Claims } from "../jobs/claims.ts";
import type { Reported } from "./messages.ts";
import { overdueAttempts } from "./policy.ts";

// A thread that has not reported an attempt this long after its deadline is not answering at all
// (its own deadline timer did not run: processOrder blocks the thread): it is replaced.
const UNRESPONSIVE_GRACE_MS = 5000;

/** Watches the attempts' deadlines; see the file comment. */
export class Watchdog {
  /** Threads found unresponsive, until they are replaced (or gone). */
  readonly unresponsive = new Set<string>();

  constructor(
    private readonly deps: {
      claims: Claims;
      /** Each attempt's deadline (PROCESSING_TIMEOUT_MS). */
      timeoutMs: number;
      log: (level: "error", message: string, extra: Record<string, unknown>) => void;
    },
  ) {}

  /** The failures to report for the overdue attempts of threads newly found unresponsive. */
  check(now: number): Reported[] {
    const limit = this.deps.timeoutMs + UNRESPONSIVE_GRACE_MS;
    const error = `processing timed out after ${this.deps.timeoutMs} ms; the worker thread did not respond and was replaced`;
    const failures: Reported[] = [];
    for (const [owner, overdue] of overdueAttempts(this.deps.claims, now, limit, this.unresponsive)) {
      this.deps.log("error", "worker thread unresponsive past the processing deadline; replacing it", {
        worker: owner,
        orders: overdue.length,
      });
      this.unresponsive.add(owner);
      for (const orderId of overdue) failures.push({ owner, result: { orderId, error }, at: now });
    }
    return failures;
  }

  /** The unresponsive threads whose failed attempts are among `reported`: replace them once recorded. */
  recordedIn(reported: Reported[]): string[] {
    return [...this.unresponsive].filter((owner) => reported.some((entry) => entry.owner === owner));
  }

  /** The thread is replaced or gone; returns its owner id. */
  forget(owner: string): string {
    this.unresponsive.delete(owner);
    return owner;
  }
}
