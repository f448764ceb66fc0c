/**
 * Worker thread entry: runs `processOrder` for the orders the dispatcher sends and reports each
 * outcome. It never touches the database (bun:sqlite connections can't cross threads, and every
 * write goes through the one writer thread); results are sent back in one message per
 * turn to keep postMessage overhead off the hot path.
 */
import type { AttemptResult, FromWorker, ToWorker } from "./messages.ts";
import { createProcessOrder, type WorkOrder } from "./process-order.ts";

declare const self: Worker;

let processOrder: ReturnType<typeof createProcessOrder> | undefined;
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
  try {
    await processOrder?.(order, controller.signal);
    report({ orderId: order.orderId });
  } catch (error) {
    report({ orderId: order.orderId, error: error instanceof Error ? error.message : String(error) });
  } finally {
    running.delete(order.orderId);
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "init":
      processOrder = createProcessOrder(message.settings);
      send({ type: "ready" });
      break;
    case "process":
      for (const order of message.orders) void run(order);
      break;
    case "abort":
      for (const controller of running.values()) controller.abort(new Error("shutdown timed out"));
      break;
  }
};
