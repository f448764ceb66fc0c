/**
 * An order processed in three durable steps: reserve the stock, charge the payment, book the
 * shipment. Run the service with it:
 *
 *   PROCESS_ORDER_MODULE=examples/three-step.ts bun run start
 *
 * Each step stands for a call to another system (a stock service, a payment provider, a carrier),
 * simulated here in memory by `FakeSystem`, which answers as such systems do when given an
 * idempotency key: the same key gets the first answer back instead of a second reservation, charge
 * or booking. The service records each step's result before the next step runs, so a retry, a
 * crash or a lost lease resumes at the first step not completed; the key covers the one window
 * left, a call that succeeded just before the process died (src/queue/steps.ts, docs/STEPS.md).
 *
 * When an order fails for good (MAX_ATTEMPTS used up), the completed steps are undone, last first:
 * the shipment is not booked, so the payment is refunded and the reservation released, each call
 * with its own idempotency key (`<order_id>:<step>:compensate`).
 *
 * EXAMPLE_STEP_MS: how long each simulated call takes (default 0). EXAMPLE_FAIL_STEP: the name of a
 * step that always fails, to watch the retries resume at it (the steps before it do not run again)
 * and then the compensations.
 */
import type { WorkOrder } from "../src/queue/process-order.ts";
import type { Step, StepContext } from "../src/queue/steps.ts";

const STEP_MS = Number(process.env.EXAMPLE_STEP_MS ?? 0);
const FAIL_STEP = process.env.EXAMPLE_FAIL_STEP;

/** Another system, as the example imagines it: idempotent by key, slow by STEP_MS. */
class FakeSystem {
  private readonly answers = new Map<string, string>();
  private next = 0;

  constructor(private readonly prefix: string) {}

  async call(key: string, signal: AbortSignal): Promise<string> {
    if (STEP_MS > 0) await Bun.sleep(STEP_MS);
    signal.throwIfAborted();
    const known = this.answers.get(key);
    if (known) return known;
    const answer = `${this.prefix}_${++this.next}`;
    this.answers.set(key, answer);
    return answer;
  }
}

const stock = new FakeSystem("res");
const releases = new FakeSystem("rel");
const payments = new FakeSystem("pay");
const refunds = new FakeSystem("ref");
const carrier = new FakeSystem("shp");

function failIfAsked(step: string): void {
  if (FAIL_STEP === step) throw new Error(`${step} failed (EXAMPLE_FAIL_STEP)`);
}

/** Units over every line (an order without lines counts one per item id). */
const units = (order: WorkOrder) =>
  order.cart ? order.cart.lines.reduce((sum, line) => sum + line.quantity, 0) : order.itemIds.length;

export const steps: Step[] = [
  {
    name: "reserve_stock",
    async run(order: WorkOrder, ctx: StepContext) {
      failIfAsked("reserve_stock");
      return { reservation: await stock.call(ctx.idempotencyKey, ctx.signal), units: units(order) };
    },
    async compensate(_order: WorkOrder, ctx: StepContext) {
      await releases.call(ctx.idempotencyKey, ctx.signal);
    },
  },
  {
    name: "charge",
    async run(order: WorkOrder, ctx: StepContext) {
      failIfAsked("charge");
      const payment = await payments.call(ctx.idempotencyKey, ctx.signal);
      return { payment, amount_minor: order.totalMinor, currency: order.currency };
    },
    async compensate(_order: WorkOrder, ctx: StepContext) {
      await refunds.call(ctx.idempotencyKey, ctx.signal);
    },
  },
  {
    name: "book_shipment",
    async run(_order: WorkOrder, ctx: StepContext) {
      failIfAsked("book_shipment");
      const { reservation } = ctx.results.reserve_stock as { reservation: string };
      return { shipment: await carrier.call(ctx.idempotencyKey, ctx.signal), reservation };
    },
  },
];
