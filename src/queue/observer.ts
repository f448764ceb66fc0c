/**
 * What the dispatcher tells about the orders it moves, as it learns it: plain functions of plain
 * data, so the queue knows no metrics library (src/metrics/ implements it). Each is called on the
 * main thread, once per order or per write, and must stay cheap: no formatting, no allocation.
 */
import type { Outcome } from "../lifecycle.ts";
import type { Order } from "../records/order.ts";
import type { Settlement } from "../records/queue.ts";

/** Told of every queue transition the dispatcher makes. */
export type QueueObserver = {
  /** The order was claimed (pending -> processing, committed) for an attempt; `startedAt` is set. */
  claimed: (order: Order) => void;
  /**
   * An attempt's outcome was committed: completed, pending again for a retry, or failed for good.
   * `tookMs` runs from the hand-over to the worker thread to the arrival of its result;
   * `settlement` is what was recorded (the order's seq, its transition).
   */
  settled: (outcome: Outcome, tookMs: number, settlement: Settlement) => void;
  /** `count` orders went back from processing to pending without an outcome (a thread died, shutdown). */
  released: (count: number) => void;
  /** A lease tick was skipped: the previous one (renewal and rescue) was still running. */
  leaseTickSkipped: () => void;
  /** An attempt's claim was lost to it (its lease ran out; someone may have taken the order up). */
  claimLost: () => void;
  /**
   * A queue call to storage took `ms`, from the call to its answer on the main thread: what a lease
   * must outlast (LEASE_MS is safe while pump and renewal take well under a third of it).
   */
  timed: (call: QueueCall, ms: number) => void;
  /**
   * A step of a module's steps (docs/STEPS.md) came to `outcome`, committed: completed or
   * compensated (its `run` or `compensate` took `ms`), failed (the attempt's failure, settled), or
   * its compensation given up; `seq` is its order's.
   */
  step: (name: string, outcome: StepOutcomeLabel, ms: number | undefined, seq: number) => void;
};

/** How a step's outcome is counted. */
export type StepOutcomeLabel = "completed" | "failed" | "compensated" | "compensation_failed";

/** The storage calls the dispatcher times. */
export type QueueCall = "pump" | "renewal" | "rescue";

/**
 * How long a just-claimed order waited in the queue (creation to its first attempt), in ms; undefined
 * for a retry, whose start includes the earlier attempts and the backoff.
 */
export function queueWaitMs(order: Order): number | undefined {
  return order.attempts === 1 && order.startedAt !== null ? order.startedAt - order.createdAt : undefined;
}

/** An observer that ignores everything (the default). */
export const ignoreQueue: QueueObserver = {
  claimed: () => {},
  settled: () => {},
  released: () => {},
  leaseTickSkipped: () => {},
  claimLost: () => {},
  timed: () => {},
  step: () => {},
};

/** One observer that tells each of `observers` in turn. */
export function tellAll(...observers: QueueObserver[]): QueueObserver {
  return {
    claimed: (order) => {
      for (const observer of observers) observer.claimed(order);
    },
    settled: (outcome, tookMs, settlement) => {
      for (const observer of observers) observer.settled(outcome, tookMs, settlement);
    },
    released: (count) => {
      for (const observer of observers) observer.released(count);
    },
    leaseTickSkipped: () => {
      for (const observer of observers) observer.leaseTickSkipped();
    },
    claimLost: () => {
      for (const observer of observers) observer.claimLost();
    },
    timed: (call, ms) => {
      for (const observer of observers) observer.timed(call, ms);
    },
    step: (name, outcome, ms, seq) => {
      for (const observer of observers) observer.step(name, outcome, ms, seq);
    },
  };
}
