/**
 * One attempt of one order on a worker thread (worker.ts runs one per order it is given). It runs
 * the steps the order has not completed, in order, each with its own deadline; for a module that
 * exports `steps`, each outcome is recorded (through the main thread) before anything after it
 * runs. An attempt past MAX_ATTEMPTS whose order has completed steps to undo, or of an order a
 * client cancelled, runs their `compensate` instead, last step first (docs/STEPS.md).
 *
 * Deadlines: each step has PROCESSING_TIMEOUT_MS. When a forward step passes it, its signal is
 * aborted and the attempt is reported failed at once, so its slot is free again; when a compensate
 * passes it, its signal is aborted and its rejection is the compensation's failure. Either way, a
 * step that still has not ended ABORT_GRACE_MS later ignores its signal: `stuck` has the thread
 * replaced.
 */
import type { Compensation } from "../lifecycle.ts";
import { stepStates } from "../records/order.ts";
import type { AttemptResult, StepOutcome } from "./messages.ts";
import type { WorkOrder } from "./process-order.ts";
import { type Pipeline, type Step, type StepContext, storedResult } from "./steps.ts";

const ABORT_GRACE_MS = 1000;

/** What an attempt needs from its thread. */
export type AttemptDeps = {
  pipeline: Pipeline;
  timeoutMs: number;
  /** Reports the attempt's outcome (once). */
  report: (result: AttemptResult) => void;
  /** Has a step's outcome recorded; rejects when it was not (the attempt must stop). */
  record: (outcome: StepOutcome, signal: AbortSignal) => Promise<void>;
  /** The attempt ignored its abort past the grace: the thread must be replaced. */
  stuck: () => void;
};

/** A promise that rejects with the signal's reason once it aborts. */
const rejectOn = (signal: AbortSignal) =>
  new Promise<never>((_, reject) =>
    signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
  );

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** One attempt; see the file comment. */
export class Attempt {
  /** Aborted when the claim is lost or shutdown runs out of time (worker.ts). */
  readonly controller = new AbortController();
  // The results of the steps completed (latest outcome), and those whose compensation gave up.
  private readonly results = new Map<string, unknown>();
  private readonly gaveUp = new Set<string>();
  // How many times each step was undone before: its idempotency keys' generation.
  private readonly undone = new Map<string, number>();
  private readonly undoing: boolean;
  private current: string | undefined;
  // How long the latest step's run or compensate took (its outcome's `ms`).
  private tookMs = 0;
  private compensation: Compensation | undefined;
  private reported = false;
  private ended = false;

  constructor(
    private readonly order: WorkOrder,
    private readonly deps: AttemptDeps,
  ) {
    for (const entry of order.steps)
      if (entry.status === "compensated") this.undone.set(entry.name, (this.undone.get(entry.name) ?? 0) + 1);
    for (const [name, { latest }] of stepStates(order.steps)) {
      if (latest.status === "completed") this.results.set(name, latest.result);
      if (latest.status === "compensation_failed") this.gaveUp.add(name);
    }
    // A cancelled order never runs its steps again, even with nothing to undo.
    this.undoing =
      deps.pipeline.durable && (order.cancelling || (order.plan.compensating && this.toUndo().length > 0));
  }

  /** Runs the attempt to its end and reports it. */
  async run(): Promise<void> {
    try {
      if (this.undoing) await this.undo();
      else await this.forward();
    } catch (error) {
      await this.recordFailure(messageOf(error));
      this.finish(messageOf(error));
    } finally {
      this.ended = true;
    }
  }

  /** The steps not completed, in order; each completion recorded before the next starts. */
  private async forward(): Promise<void> {
    const { pipeline } = this.deps;
    for (const step of pipeline.steps) {
      if (this.results.has(step.name)) continue;
      const value = await this.within(step, (signal) => step.run(this.order, this.context(step, signal, "")));
      // Past its deadline the attempt was reported failed: nothing more runs in it.
      if (this.reported) return;
      if (!pipeline.durable) continue;
      const result = storedResult(value);
      await this.deps.record(
        { orderId: this.order.orderId, name: step.name, status: "completed", result, ms: this.tookMs },
        this.controller.signal,
      );
      this.results.set(step.name, result);
    }
    this.current = undefined;
    this.finish();
  }

  /**
   * The completed steps' (and the given-up compensations') `compensate`, last step first, each
   * recorded. A failure is retried by the next attempt, which resumes at it; on the last attempt
   * allowed it is recorded as given up, and the rest are still undone.
   */
  private async undo(): Promise<void> {
    for (const step of this.toUndo().reverse()) {
      const compensate = step.compensate as NonNullable<Step["compensate"]>;
      let failure: string | undefined;
      try {
        await this.within(step, (signal) =>
          compensate(this.order, this.context(step, signal, ":compensate")),
        );
      } catch (error) {
        failure = messageOf(error);
      }
      const outcome = { orderId: this.order.orderId, name: step.name, ms: this.tookMs };
      if (failure === undefined)
        await this.deps.record({ ...outcome, status: "compensated" }, this.controller.signal);
      else if (!this.order.plan.lastCompensation) throw new Error(failure);
      else {
        await this.deps.record(
          { ...outcome, status: "compensation_failed", error: failure },
          this.controller.signal,
        );
        this.gaveUp.add(step.name);
        this.compensation = "compensation_failed";
      }
    }
    this.compensation ??= "compensated";
    this.current = undefined;
    this.finish(this.order.lastError ?? "the order failed");
  }

  /**
   * A step that failed on the order's last forward attempt is recorded as failed (GET /orders/:id
   * and the dashboard say which step the order failed in); earlier failures are retried instead.
   * Best effort: if it cannot be recorded, the attempt's failure is reported all the same.
   */
  private async recordFailure(error: string): Promise<void> {
    const { pipeline } = this.deps;
    if (this.reported || this.undoing || !pipeline.durable || !this.order.plan.lastForward) return;
    if (this.current === undefined) return;
    const outcome = { orderId: this.order.orderId, name: this.current, ms: this.tookMs };
    await this.deps.record({ ...outcome, status: "failed", error }, this.controller.signal).catch(() => {});
  }

  /** The steps that have a `compensate` and were completed, or whose compensation gave up. */
  private toUndo(): Step[] {
    return this.deps.pipeline.steps.filter(
      (step) => step.compensate !== undefined && (this.results.has(step.name) || this.gaveUp.has(step.name)),
    );
  }

  /** Runs `work` as step `step` under its deadline (see the file comment). */
  private async within<T>(step: Step, work: (signal: AbortSignal) => T): Promise<Awaited<T>> {
    this.current = step.name;
    const deadline = new AbortController();
    const signal = AbortSignal.any([this.controller.signal, deadline.signal]);
    const timer = setTimeout(() => {
      const reason = `processing timed out after ${this.deps.timeoutMs} ms`;
      deadline.abort(new Error(reason));
      if (!this.undoing) this.finish(reason);
      setTimeout(() => {
        if (!this.ended && this.current === step.name) this.deps.stuck();
      }, ABORT_GRACE_MS);
    }, this.deps.timeoutMs);
    const started = performance.now();
    try {
      // Undoing, the deadline fails the compensate even if it ignores its signal: the failure is
      // retried or given up, never waited on forever.
      if (!this.undoing) return await work(signal);
      return await Promise.race([work(signal), rejectOn(deadline.signal)]);
    } finally {
      this.tookMs = performance.now() - started;
      clearTimeout(timer);
    }
  }

  /**
   * The step's context. Its idempotency key is `<order_id>:<step>` (`…:compensate` to undo it),
   * the same on every attempt; once the step was undone, running it again is a new call to the
   * other system, so the key gets the generation: `<order_id>:<step>:<n>` after n compensations.
   */
  private context(step: Step, signal: AbortSignal, suffix: string): StepContext {
    const generation = this.undone.get(step.name) ?? 0;
    return {
      signal,
      attempt: this.order.attempt,
      results: Object.fromEntries(this.results),
      idempotencyKey: `${this.order.orderId}:${step.name}${suffix}${generation === 0 ? "" : `:${generation}`}`,
    };
  }

  /** Reports the attempt's outcome, once: what the queue needs to decide what comes next. */
  private finish(error?: string): void {
    if (this.reported) return;
    this.reported = true;
    const { orderId } = this.order;
    const result: AttemptResult = { orderId };
    if (error !== undefined) result.error = error;
    if (error !== undefined && this.deps.pipeline.durable) {
      result.step = this.current;
      if (this.order.cancelling) result.cancelled = true;
      if (this.compensation) result.compensation = this.compensation;
      else if (this.undoing) result.compensating = true;
      else if (this.order.plan.lastForward && this.toUndo().length > 0) result.undo = true;
    }
    this.deps.report(result);
  }
}
