/** The messages between the dispatcher (main thread) and a worker thread. */
import type { Compensation } from "../lifecycle.ts";
import type { StepStatus } from "../records/order.ts";
import type { ProcessingSettings, WorkOrder } from "./process-order.ts";

/** Main thread -> worker. */
export type ToWorker =
  | { type: "init"; settings: ProcessingSettings }
  | { type: "process"; orders: WorkOrder[] }
  // Shutdown ran out of time: abort every attempt.
  | { type: "abort" }
  // These attempts lost their claim (the lease ran out and the order was taken up again): abort them.
  | { type: "cancel"; orderIds: string[]; reason: string }
  // The answers to `steps`: each one recorded (no error: go on) or not (stop with it).
  | { type: "recorded"; answers: StepAnswer[] };

/**
 * A step's outcome (a module that exports `steps`), to record before anything after it runs:
 * completed with its `result`, compensated, or its compensation given up with `error`.
 */
export type StepOutcome = {
  orderId: string;
  name: string;
  status: StepStatus;
  result?: unknown;
  error?: string;
  /** How long its `run` or `compensate` took. */
  ms: number;
};

/** Whether a completed step was recorded; `error` is set when not (the attempt ends with it). */
export type StepAnswer = { orderId: string; error?: string };

/**
 * The outcome of one attempt; `error` is set when it failed, `step` when a module's step failed.
 * `undo`: it was the last forward attempt and completed steps are left to compensate (the order
 * goes on to compensation at once). `compensation`: the compensation ended (the order fails).
 */
export type AttemptResult = {
  orderId: string;
  error?: string;
  step?: string;
  undo?: boolean;
  /** A compensation attempt failed (retried within the compensation budget). */
  compensating?: boolean;
  compensation?: Compensation;
  /** The compensation was for a client's cancel: compensated, the order is cancelled. */
  cancelled?: boolean;
};

/** A result as it arrived on the main thread (`at`, for the processing time), waiting to be recorded. */
export type Reported = { owner: string; result: AttemptResult; at: number };

/** Worker -> main thread. */
export type FromWorker =
  // Up; `durable`: its module exports steps (their outcomes are recorded: steps.ts).
  | { type: "ready"; durable: boolean }
  | { type: "done"; results: AttemptResult[] }
  // Step outcomes of this turn: record them, then answer with `recorded`.
  | { type: "steps"; steps: StepOutcome[] }
  // An attempt went on past its deadline and did not end when aborted: replace this thread.
  | { type: "stuck"; orderId: string };
