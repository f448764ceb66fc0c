/**
 * This process's recent queue activity for the dashboard: how long orders waited and took over the
 * last minute, as counts per latency bucket (mergeable across replicas, unlike percentiles), the
 * value of the orders accepted by currency, each step's outcomes and run times (a module's steps),
 * and running totals of retries and failures. Fed by the dispatcher as a QueueObserver; one ring of
 * per-second slots, so recording is an array increment and a snapshot sums 60 small arrays.
 */

import { type QueueObserver, queueWaitMs } from "../queue/observer.ts";
import type { ActivityReport, StepActivity } from "../records/activity.ts";
import type { Order } from "../records/order.ts";

/** Upper bounds of the latency buckets, in ms (the last bucket is everything above). */
export const BUCKETS_MS = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000,
];
/** Seconds a snapshot covers. */
export const WINDOW_S = 60;

/**
 * What one process reports: orders per queue-wait bucket (creation to first claim) and attempts per
 * processing-time bucket over the last WINDOW_S, retries and failures since it started, its slots.
 */
export type ActivitySnapshot = Omit<ActivityReport, "replica" | "at">;

type Slot = {
  second: number;
  wait: number[];
  processing: number[];
  value: Map<string, number>;
  steps: Map<string, StepActivity>;
};

const bucketOf = (ms: number) => {
  const i = BUCKETS_MS.findIndex((bound) => ms <= bound);
  return i < 0 ? BUCKETS_MS.length : i;
};
/** Adds `counts` into `into`, bucket by bucket. */
const add = (into: number[], counts: number[]) => {
  for (const [i, n] of counts.entries()) into[i] = (into[i] ?? 0) + n;
};
const count = (buckets: number[], i: number) => {
  buckets[i] = (buckets[i] ?? 0) + 1;
};
const zeros = () => new Array<number>(BUCKETS_MS.length + 1).fill(0);
export const emptyStep = (): StepActivity => ({
  buckets: zeros(),
  failed: 0,
  compensated: 0,
  compensationFailed: 0,
});
/** Adds one step's activity into another's. */
export const addStep = (into: StepActivity, step: StepActivity) => {
  add(into.buckets, step.buckets);
  into.failed += step.failed;
  into.compensated += step.compensated;
  into.compensationFailed += step.compensationFailed;
};

export class ActivityWindow {
  readonly #slots: Slot[] = Array.from({ length: WINDOW_S }, () => ({
    second: -1,
    wait: zeros(),
    processing: zeros(),
    value: new Map(),
    steps: new Map(),
  }));
  #retries = 0;
  #failures = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** The observer to give the dispatcher (beside the metrics one). */
  readonly observer: QueueObserver = {
    claimed: (order: Order) => {
      const waitedMs = queueWaitMs(order);
      if (waitedMs !== undefined) count(this.#slot().wait, bucketOf(waitedMs));
    },
    settled: (outcome, tookMs) => {
      const slot = this.#slot();
      count(slot.processing, bucketOf(tookMs));
      if (outcome === "retry") this.#retries++;
      else if (outcome === "failed") this.#failures++;
    },
    released: () => {},
    leaseTickSkipped: () => {},
    claimLost: () => {},
    timed: () => {},
    step: (name, outcome, ms) => {
      const steps = this.#slot().steps;
      let step = steps.get(name);
      if (!step) {
        step = { buckets: zeros(), failed: 0, compensated: 0, compensationFailed: 0 };
        steps.set(name, step);
      }
      if (outcome === "completed") count(step.buckets, bucketOf(ms ?? 0));
      else if (outcome === "failed") step.failed++;
      else if (outcome === "compensated") step.compensated++;
      else step.compensationFailed++;
    },
  };

  /** An order was accepted: its value counts in this second, under its currency. */
  accepted(order: Pick<Order, "currency" | "totalMinor">): void {
    const { value } = this.#slot();
    value.set(order.currency, (value.get(order.currency) ?? 0) + order.totalMinor);
  }

  /** The last WINDOW_S seconds, with the slots as they are now. */
  snapshot(slots: { busy: number; capacity: number }): ActivitySnapshot {
    const since = Math.floor(this.now() / 1000) - WINDOW_S;
    const waitBuckets = zeros();
    const processingBuckets = zeros();
    const valueByCurrency: Record<string, number> = {};
    const steps: Record<string, StepActivity> = {};
    // Oldest second first, so the steps come in the order they first came (a pipeline's order).
    const recent = this.#slots.filter((slot) => slot.second > since).sort((a, b) => a.second - b.second);
    for (const slot of recent) {
      add(waitBuckets, slot.wait);
      add(processingBuckets, slot.processing);
      for (const [currency, minor] of slot.value)
        valueByCurrency[currency] = (valueByCurrency[currency] ?? 0) + minor;
      for (const [name, step] of slot.steps) {
        steps[name] ??= emptyStep();
        addStep(steps[name], step);
      }
    }
    return {
      waitBuckets,
      processingBuckets,
      retriesTotal: this.#retries,
      failuresTotal: this.#failures,
      slotsBusy: slots.busy,
      slotsCapacity: slots.capacity,
      valueByCurrency,
      steps,
    };
  }

  /** The slot of the current second, emptied if it last held an older one. */
  #slot(): Slot {
    const second = Math.floor(this.now() / 1000);
    const slot = this.#slots[second % WINDOW_S] as Slot;
    if (slot.second !== second) {
      slot.second = second;
      slot.wait.fill(0);
      slot.processing.fill(0);
      slot.value.clear();
      slot.steps.clear();
    }
    return slot;
  }
}

/**
 * The `p`-quantile (0–1) of bucketed counts, in ms: interpolated inside the bucket it falls in (the
 * last, unbounded one reports its lower bound). Null without observations.
 */
export function quantileMs(buckets: number[], p: number): number | null {
  const total = buckets.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = p * total;
  let seen = 0;
  for (const [i, count] of buckets.entries()) {
    if (count > 0 && seen + count >= rank) {
      const lower = i === 0 ? 0 : (BUCKETS_MS[i - 1] ?? 0);
      const upper = BUCKETS_MS[i];
      if (upper === undefined) return lower;
      return lower + ((upper - lower) * (rank - seen)) / count;
    }
    seen += count;
  }
  return BUCKETS_MS.at(-1) ?? null;
}

/** Sums replicas' bucket counts. */
export function mergeBuckets(all: number[][]): number[] {
  const merged = zeros();
  for (const buckets of all)
    buckets.forEach((count, i) => {
      merged[i] = (merged[i] ?? 0) + count;
    });
  return merged;
}
