/**
 * The `PROCESS_ORDER_MODULE` of bench/leases.ts: a fulfilment of JOURNAL_PROCESSING_MS (50 by
 * default) that honours its abort signal and writes a journal line when it starts and when it is
 * done, `start|done <orderId> <attempt> <pid>`, to JOURNAL_DIR/<pid>.log: what an operator's
 * journal of fulfilments would show, so that a double fulfilment can be traced to its replica.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkOrder } from "../src/queue/process-order.ts";

const journal = join(process.env.JOURNAL_DIR as string, `${process.pid}.log`);
const ms = Number(process.env.JOURNAL_PROCESSING_MS ?? 50);

/** See the file comment. */
export async function processOrder(order: WorkOrder, signal: AbortSignal): Promise<void> {
  appendFileSync(journal, `start ${order.orderId} ${order.attempt} ${process.pid}\n`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
  appendFileSync(journal, `done ${order.orderId} ${order.attempt} ${process.pid}\n`);
}
