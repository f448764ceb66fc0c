/**
 * Worker thread entry: runs `processOrder` for the orders the dispatcher sends and reports each
 * outcome. It never touches the database: the dispatcher records every outcome through the queue
 * port (on SQLite a bun:sqlite connection can't cross threads, and every write goes through the one
 * writer thread). Results are sent back in one message per turn to keep postMessage overhead off
 * the hot path.
 *
 * Each attempt has a deadline (PROCESSING_TIMEOUT_MS): then its signal is aborted and it is
 * reported failed at once, so its slot is free again. An attempt that still has not ended
 * ABORT_GRACE_MS later ignores its signal: the thread reports itself stuck and is replaced.
 */
import type { AttemptResult, FromWorker, ToWorker } from "./messages.ts";
import {
  createProcessOrder,
  type ProcessingSettings,
  type ProcessOrder,
  type WorkOrder,
} from "./process-order.ts";

declare const self: Worker;

const ABORT_GRACE_MS = 1000;

let processOrder: ProcessOrder | undefined;
let timeoutMs = 30_000;
const running = new Map<string, AbortController>();
let outbox: AttemptResult[] = [];

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

async function run(order: WorkOrder): Promise<void> {
  const controller = new AbortController();
  running.set(order.orderId, controller);
  let reported = false;
  let ended = false;
  const finish = (error?: string) => {
    if (!reported)
      report(error === undefined ? { orderId: order.orderId } : { orderId: order.orderId, error });
    reported = true;
  };
  const deadline = setTimeout(() => {
    const reason = `processing timed out after ${timeoutMs} ms`;
    controller.abort(new Error(reason));
    finish(reason);
    setTimeout(() => {
      if (!ended) send({ type: "stuck", orderId: order.orderId });
    }, ABORT_GRACE_MS);
  }, timeoutMs);
  try {
    if (!processOrder) throw new Error("the worker thread is not initialised");
    await processOrder(order, controller.signal);
    finish();
  } catch (error) {
    finish(error instanceof Error ? error.message : String(error));
  } finally {
    ended = true;
    clearTimeout(deadline);
    running.delete(order.orderId);
  }
}

/** The simulated fulfilment, or the `processOrder` of the module the settings name. */
async function loadProcessOrder(settings: ProcessingSettings): Promise<ProcessOrder> {
  if (!settings.module) return createProcessOrder(settings);
  const loaded = (await import(settings.module)) as { processOrder?: unknown };
  if (typeof loaded.processOrder !== "function") {
    throw new Error(`${settings.module} does not export a function processOrder`);
  }
  return loaded.processOrder as ProcessOrder;
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "init":
      timeoutMs = message.settings.timeoutMs;
      processOrder = await loadProcessOrder(message.settings);
      send({ type: "ready" });
      break;
    case "process":
      for (const order of message.orders) void run(order);
      break;
    case "abort":
      for (const controller of running.values()) controller.abort(new Error("shutdown timed out"));
      break;
    case "cancel":
      for (const orderId of message.orderIds) running.get(orderId)?.abort(new Error(message.reason));
      break;
  }
};
