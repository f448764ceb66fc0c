/**
 * Records the step outcomes the worker threads report (a module that exports `steps`: steps.ts):
 * a step completed, compensated or its compensation given up, each before its attempt goes on. The steps reported in one turn go to storage in one
 * `recordSteps` call (one group commit on SQLite, one statement on PostgreSQL), each fenced by its
 * claim, and each thread then hears which were recorded. A step whose claim is lost or no longer
 * held is not recorded: its attempt stops there, and whoever holds the order next resumes from what
 * was recorded. A failed call records nothing: the attempts fail and are retried with backoff, and
 * the retry runs those steps again (with the same idempotency keys).
 */

import type { Claim, Claims } from "../jobs/claims.ts";
import * as lifecycle from "../lifecycle.ts";
import type { StepEntry } from "../records/order.ts";
import type { StepAnswer, StepOutcome } from "./messages.ts";
import type { QueueObserver } from "./observer.ts";
import type { QueueStore, StepRecord } from "./store.ts";
import type { Workers } from "./worker-pool.ts";

/** What the recorder needs. */
export type StepRecorderDeps = {
  queue: Pick<QueueStore, "recordSteps">;
  claims: Claims;
  workers: Pick<Workers, "answer">;
  now: () => number;
  /** Told of each outcome once it is committed (the per-step metrics). */
  observer: Pick<QueueObserver, "step">;
  log: (level: "error", message: string, extra?: Record<string, unknown>) => void;
};

const LOST = "the claim on this order was lost before its step was recorded";

/** The event of a step's outcome. */
function transitionOf(outcome: StepOutcome) {
  if (outcome.status === "completed") return lifecycle.stepCompleted(outcome.name);
  if (outcome.status === "compensated") return lifecycle.stepCompensated(outcome.name);
  if (outcome.status === "failed") return lifecycle.stepFailed(outcome.name, outcome.error ?? "");
  return lifecycle.stepCompensationFailed(outcome.name, outcome.error ?? "");
}

/** The entry a step's outcome appends to the order's steps. */
function entryOf(outcome: StepOutcome, attempt: number, at: number): StepEntry {
  const { name, status } = outcome;
  if (status === "completed") return { name, status, attempt, at, result: outcome.result };
  if (status === "compensated") return { name, status, attempt, at };
  // failed, compensation_failed
  return { name, status, attempt, at, error: outcome.error ?? "" };
}

type Waiting = { owner: string; done: StepOutcome; claim: Claim };

/** Records completed steps; see the file comment. */
export class StepRecorder {
  private waiting: Waiting[] = [];

  constructor(private readonly deps: StepRecorderDeps) {}

  /** Step outcomes of thread `owner`: recorded with the next turn's others, then answered. */
  add(owner: string, steps: StepOutcome[]): void {
    const lost: StepAnswer[] = [];
    for (const done of steps) {
      const claim = this.deps.claims.get(owner, done.orderId);
      if (!claim || claim.lost) lost.push({ orderId: done.orderId, error: LOST });
      else {
        if (this.waiting.length === 0) setImmediate(() => void this.flush());
        this.waiting.push({ owner, done, claim });
      }
    }
    if (lost.length > 0) this.deps.workers.answer(owner, lost);
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = [];
    const now = this.deps.now();
    const records: StepRecord[] = batch.map(({ owner, done, claim }) => ({
      seq: claim.seq,
      owner,
      transition: transitionOf(done),
      step: entryOf(done, claim.attempts, now),
    }));
    let recorded: Set<number>;
    try {
      recorded = new Set(await this.deps.queue.recordSteps({ records, now }));
    } catch (error) {
      this.deps.log("error", "queue write failed", { write: "recordSteps", error: String(error) });
      const why = `the step's completion could not be recorded: ${String(error)}`;
      this.answer(batch.map(({ owner, done }) => ({ owner, answer: { orderId: done.orderId, error: why } })));
      return;
    }
    const at = this.deps.now();
    this.answer(
      batch.map(({ owner, done, claim }) => {
        if (recorded.has(claim.seq)) {
          // The next step's deadline counts from now (watchdog.ts).
          claim.activeSince = at;
          // A failed step is counted when its attempt's failure is settled.
          if (done.status !== "failed") this.deps.observer.step(done.name, done.status, done.ms, claim.seq);
          return { owner, answer: { orderId: done.orderId } };
        }
        claim.lost = true;
        return { owner, answer: { orderId: done.orderId, error: LOST } };
      }),
    );
  }

  /** Sends each thread its answers in one message. */
  private answer(answers: { owner: string; answer: StepAnswer }[]): void {
    const byOwner = Map.groupBy(answers, (entry) => entry.owner);
    for (const [owner, entries] of byOwner)
      this.deps.workers.answer(
        owner,
        entries.map((entry) => entry.answer),
      );
  }
}
