/** The messages between the dispatcher (main thread) and a worker thread. */
import type { ProcessingSettings, WorkOrder } from "./process-order.ts";

/** Main thread -> worker. */
export type ToWorker =
  | { type: "init"; settings: ProcessingSettings }
  | { type: "process"; orders: WorkOrder[] }
  // Shutdown ran out of time: abort every attempt.
  | { type: "abort" }
  // These attempts lost their claim (the lease ran out and the order was taken up again): abort them.
  | { type: "cancel"; orderIds: string[]; reason: string }
  // The answers to `steps`: each one recorded (no error: run the next step) or not (stop with it).
  | { type: "recorded"; answers: StepAnswer[] };

/** A step that completed (a module that exports `steps`), to record before the next one runs. */
export type StepDone = { orderId: string; name: string; result: unknown };

/** Whether a completed step was recorded; `error` is set when not (the attempt ends with it). */
export type StepAnswer = { orderId: string; error?: string };

/** The outcome of one attempt; `error` is set when it failed, `step` when a module's step failed. */
export type AttemptResult = { orderId: string; error?: string; step?: string };

/** A result as it arrived on the main thread (`at`, for the processing time), waiting to be recorded. */
export type Reported = { owner: string; result: AttemptResult; at: number };

/** Worker -> main thread. */
export type FromWorker =
  | { type: "ready" }
  | { type: "done"; results: AttemptResult[] }
  // Steps completed in this turn: record them, then answer with `recorded`.
  | { type: "steps"; steps: StepDone[] }
  // An attempt went on past its deadline and did not end when aborted: replace this thread.
  | { type: "stuck"; orderId: string };
