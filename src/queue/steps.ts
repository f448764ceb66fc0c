/**
 * Processing in durable steps, as a worker thread runs it. `PROCESS_ORDER_MODULE` may export
 * `steps`, an ordered list of `{ name, run(order, ctx) }`; a module exporting `processOrder` (and
 * the simulated fulfilment) is one step named `process`, whose completion is the order's, as it
 * always was.
 *
 * For a module that exports `steps`, each step's completion and JSON result is recorded with the
 * order (the queue port's `recordSteps`, fenced by the claim) before the next step starts, and an
 * attempt starts at the first step not completed: a retry, a crash, a lost lease or a restart never
 * runs a completed step again. The one window no database closes, a step whose call succeeded but
 * whose completion was not recorded (the process died in between), is what `ctx.idempotencyKey`
 * is for: the retry calls the other system again with the same key, and it answers with its first
 * result instead of acting twice. docs/STEPS.md has the design.
 */
import { createProcessOrder, type ProcessingSettings, type WorkOrder } from "./process-order.ts";

/** What a step gets besides the order. */
export type StepContext = {
  /** Aborted when the step passes PROCESSING_TIMEOUT_MS, when the claim is lost, or at shutdown. */
  signal: AbortSignal;
  /** The order's attempt (1 for the first). */
  attempt: number;
  /** The results of the steps completed before this one, by name. */
  results: Record<string, unknown>;
  /** `<order_id>:<step>`: the same on every attempt; pass it to the system the step calls. */
  idempotencyKey: string;
};

/**
 * One step: `run` resolves with its result (JSON, at most 16 KB) or throws (the attempt failed).
 * `compensate` undoes it once the order has failed for good (its ctx has every completed step's
 * result, its own included, and the idempotency key `<order_id>:<step>:compensate`); a step
 * without one is kept done.
 */
export type Step = {
  name: string;
  run: (order: WorkOrder, ctx: StepContext) => unknown;
  compensate?: (order: WorkOrder, ctx: StepContext) => unknown;
};

/** The steps of processing, and whether each one's completion is recorded (a module's `steps`). */
export type Pipeline = { steps: Step[]; durable: boolean };

/** The largest result a step may return, as JSON bytes. */
export const MAX_RESULT_BYTES = 16 * 1024;

const STEP_NAME = /^[a-z][a-z0-9_]{0,31}$/;

/** The steps a module exports, checked: a wrong export stops the worker from starting, with why. */
function checkSteps(module: string, steps: unknown): Step[] {
  const wrong = (why: string) => new Error(`${module}: steps ${why}`);
  if (!Array.isArray(steps) || steps.length === 0) throw wrong("must be a non-empty array");
  const names = new Set<string>();
  for (const [i, step] of steps.entries()) {
    const { name, run, compensate } = (step ?? {}) as { name?: unknown; run?: unknown; compensate?: unknown };
    if (typeof name !== "string" || !STEP_NAME.test(name))
      throw wrong(`[${i}].name must be 1-32 characters of a-z, 0-9 and _, starting with a letter`);
    if (names.has(name)) throw wrong(`[${i}].name ${name} is used twice`);
    if (typeof run !== "function") throw wrong(`[${i}].run must be a function`);
    if (compensate !== undefined && typeof compensate !== "function")
      throw wrong(`[${i}].compensate must be a function when given`);
    names.add(name);
  }
  return steps as Step[];
}

/** The simulated fulfilment, or the `steps` or `processOrder` of the module the settings name. */
export async function loadPipeline(settings: ProcessingSettings): Promise<Pipeline> {
  const one = (process: ReturnType<typeof createProcessOrder>): Pipeline => ({
    steps: [{ name: "process", run: (order, ctx) => process(order, ctx.signal) }],
    durable: false,
  });
  if (!settings.module) return one(createProcessOrder(settings));
  const loaded = (await import(settings.module)) as { steps?: unknown; processOrder?: unknown };
  if (loaded.steps !== undefined) return { steps: checkSteps(settings.module, loaded.steps), durable: true };
  if (typeof loaded.processOrder !== "function") {
    throw new Error(`${settings.module} exports neither steps nor a function processOrder`);
  }
  return one(loaded.processOrder as ReturnType<typeof createProcessOrder>);
}

/** A step's result as it is stored: JSON (undefined is null), at most MAX_RESULT_BYTES. */
export function storedResult(value: unknown): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(value ?? null);
  } catch (error) {
    throw new Error(`the step's result is not JSON: ${error instanceof Error ? error.message : error}`);
  }
  if (json === undefined) throw new Error("the step's result is not JSON");
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_RESULT_BYTES) {
    throw new Error(`the step's result is ${bytes} bytes as JSON, more than ${MAX_RESULT_BYTES}`);
  }
  return JSON.parse(json);
}
