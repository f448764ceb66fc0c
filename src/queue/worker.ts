/**
 * Worker thread entry: runs one attempt (attempt.ts) of each order the dispatcher sends and
 * reports each outcome. It never touches the database: the dispatcher records every outcome, and
 * every step's, through the queue port (on SQLite a bun:sqlite connection can't cross threads, and
 * every write goes through the one writer thread). Results and step outcomes are sent back in one
 * message per turn to keep postMessage overhead off the hot path.
 */

import { Attempt } from "./attempt.ts";
import type { AttemptResult, FromWorker, StepAnswer, StepOutcome, ToWorker } from "./messages.ts";
import type { WorkOrder } from "./process-order.ts";
import { loadPipeline, type Pipeline } from "./steps.ts";

declare const self: Worker;

let pipeline: Pipeline | undefined;
let timeoutMs = 30_000;
const running = new Map<string, AbortController>();

// The attempts waiting for a step outcome to be recorded, by order id.
const awaitingRecord = new Map<string, (answer: StepAnswer) => void>();

function send(message: FromWorker): void {
  self.postMessage(message);
}

/** Collects items and sends those of one turn together, in one message. */
function perTurn<T>(flush: (items: T[]) => void): (item: T) => void {
  let items: T[] = [];
  return (item) => {
    if (items.length === 0)
      setImmediate(() => {
        const turn = items;
        items = [];
        flush(turn);
      });
    items.push(item);
  };
}

const report = perTurn<AttemptResult>((results) => send({ type: "done", results }));
const askToRecord = perTurn<StepOutcome>((steps) => send({ type: "steps", steps }));

/** Asks the main thread to record a step outcome (batched per turn); resolves with its answer. */
function record(done: StepOutcome, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  askToRecord(done);
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

/** Runs one attempt of `order` (attempt.ts) and reports it. */
async function run(order: WorkOrder): Promise<void> {
  if (!pipeline) {
    report({ orderId: order.orderId, error: "the worker thread is not initialised" });
    return;
  }
  const attempt = new Attempt(order, {
    pipeline,
    timeoutMs,
    report,
    record,
    stuck: () => send({ type: "stuck", orderId: order.orderId }),
  });
  running.set(order.orderId, attempt.controller);
  try {
    await attempt.run();
  } finally {
    // A timed-out attempt may end after the next attempt of its order started here.
    if (running.get(order.orderId) === attempt.controller) running.delete(order.orderId);
  }
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "init":
      timeoutMs = message.settings.timeoutMs;
      pipeline = await loadPipeline(message.settings);
      send({ type: "ready", durable: pipeline.durable });
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
