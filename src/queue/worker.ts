/**
 * Worker thread entry: runs the processing steps (steps.ts) of the orders the dispatcher sends and
 * reports each outcome. It never touches the database: the dispatcher records every outcome through the queue
 * port (on SQLite a bun:sqlite connection can't cross threads, and every write goes through the one
 * writer thread). Results are sent back in one message per turn to keep postMessage overhead off
 * the hot path.
 *
 * Each step of an attempt has a deadline (PROCESSING_TIMEOUT_MS): then its signal is aborted and
 * the attempt is reported failed at once, so its slot is free again. An attempt that still has not ended
 * ABORT_GRACE_MS later ignores its signal: the thread reports itself stuck and is replaced.
 */
import type { AttemptResult, FromWorker, StepAnswer, StepDone, ToWorker } from "./messages.ts";
import type { WorkOrder } from "./process-order.ts";
import { loadPipeline, type Pipeline, resultsOf, storedResult } from "./steps.ts";

declare const self: Worker;

const ABORT_GRACE_MS = 1000;

let pipeline: Pipeline | undefined;
let timeoutMs = 30_000;
const running = new Map<string, AbortController>();
let outbox: AttemptResult[] = [];
let stepsOutbox: StepDone[] = [];
// The attempts waiting for their last completed step to be recorded, by order id.
const awaitingRecord = new Map<string, (answer: StepAnswer) => void>();

function send(message: FromWorker): void {
  self.postMessage(message);
}

function report(result: AttemptResult): void {
  if (outbox.length === 0) {
    setImmediate(() => {
      const results = outbox;
      outbox = [];
      send({ type: "done", results });
    });
  }
  outbox.push(result);
}

/** Asks the main thread to record a completed step (batched per turn); resolves with its answer. */
function record(done: StepDone, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (stepsOutbox.length === 0) {
    setImmediate(() => {
      const steps = stepsOutbox;
      stepsOutbox = [];
      send({ type: "steps", steps });
    });
  }
  stepsOutbox.push(done);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      awaitingRecord.delete(done.orderId);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    awaitingRecord.set(done.orderId, (answer) => {
      signal.removeEventListener("abort", onAbort);
      if (answer.error === undefined) resolve();
      else reject(new Error(answer.error));
    });
  });
}

/**
 * One attempt: the steps not completed before, in order, each with its own deadline; for a module
 * that exports `steps`, each completion recorded before the next step starts (steps.ts).
 */
async function run(order: WorkOrder): Promise<void> {
  const controller = new AbortController();
  const { signal } = controller;
  running.set(order.orderId, controller);
  let reported = false;
  let ended = false;
  let current: string | undefined;
  const finish = (error?: string) => {
    if (!reported) {
      const step = pipeline?.durable ? current : undefined;
      report(error === undefined ? { orderId: order.orderId } : { orderId: order.orderId, error, step });
    }
    reported = true;
  };
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(deadline);
    deadline = setTimeout(() => {
      const reason = `processing timed out after ${timeoutMs} ms`;
      controller.abort(new Error(reason));
      finish(reason);
      setTimeout(() => {
        if (!ended) send({ type: "stuck", orderId: order.orderId });
      }, ABORT_GRACE_MS);
    }, timeoutMs);
  };
  try {
    if (!pipeline) throw new Error("the worker thread is not initialised");
    const results = resultsOf(order.steps);
    const done = new Set(order.steps.map((step) => step.name));
    for (const step of pipeline.steps) {
      if (done.has(step.name)) continue;
      current = step.name;
      arm();
      const idempotencyKey = `${order.orderId}:${step.name}`;
      const value = await step.run(order, {
        signal,
        attempt: order.attempt,
        results: { ...results },
        idempotencyKey,
      });
      if (!pipeline.durable) continue;
      const result = storedResult(value);
      await record({ orderId: order.orderId, name: step.name, result }, signal);
      results[step.name] = result;
    }
    current = undefined;
    finish();
  } catch (error) {
    finish(error instanceof Error ? error.message : String(error));
  } finally {
    ended = true;
    clearTimeout(deadline);
    running.delete(order.orderId);
  }
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "init":
      timeoutMs = message.settings.timeoutMs;
      pipeline = await loadPipeline(message.settings);
      send({ type: "ready" });
      break;
    case "process":
      for (const order of message.orders) void run(order);
      break;
    case "recorded":
      for (const answer of message.answers) {
        const resolve = awaitingRecord.get(answer.orderId);
        awaitingRecord.delete(answer.orderId);
        resolve?.(answer);
      }
      break;
    case "abort":
      for (const controller of running.values()) controller.abort(new Error("shutdown timed out"));
      break;
    case "cancel":
      for (const orderId of message.orderIds) running.get(orderId)?.abort(new Error(message.reason));
      break;
  }
};
