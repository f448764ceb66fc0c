/**
 * The order and queue metrics. Counts and durations are observed on the main thread where each
 * fact is known (the orders service creates and cancels; the dispatcher claims, hands over to the
 * worker threads, records their outcomes and releases), so they include the work of every worker
 * thread. The levels (orders by status, slots busy) are read at each scrape.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { storedDigits } from "../kit/currency.ts";
import * as lifecycle from "../lifecycle.ts";
import { type QueueObserver, queueWaitMs, type StepOutcomeLabel } from "../queue/observer.ts";
import {
  type NewOrder,
  ORDER_STATUSES,
  type Order,
  type OrderStatus,
  type Transition,
} from "../records/order.ts";

/** What the gauges read at each scrape. */
export type QueueSources = {
  /** Orders per status now (the storage's running totals: constant time). */
  countOrders: () => Promise<{ byStatus: Record<OrderStatus, number> }>;
  /** Orders the worker threads hold, and the slots of the threads that are up. */
  slots: () => { busy: number; capacity: number };
};

type Outcome = Parameters<QueueObserver["settled"]>[0];
const CALL_LABELS = { pump: { call: "pump" }, renewal: { call: "renewal" }, rescue: { call: "rescue" } };

/** A transition's `from`/`to` labels, read off the lifecycle's table (src/lifecycle.ts). */
const labelsOf = ({ from, to }: Transition) => ({ from: from ?? "", to });
// Label sets made once: an observation on the hot path allocates nothing.
const CLAIMED = labelsOf(lifecycle.claimed(""));
const RELEASED = labelsOf(lifecycle.workerStopped());
const CANCELLED = labelsOf(lifecycle.cancelled());
const SETTLED: Record<Outcome, { from: string; to: OrderStatus }> = {
  completed: labelsOf(lifecycle.completed()),
  retry: labelsOf(lifecycle.attemptFailed("", 0)),
  failed: labelsOf(lifecycle.failed("")),
  cancelled: labelsOf(lifecycle.cancelCompleted()),
};
const OUTCOMES: Record<Outcome, { outcome: Outcome }> = {
  completed: { outcome: "completed" },
  retry: { outcome: "retry" },
  failed: { outcome: "failed" },
  cancelled: { outcome: "cancelled" },
};
// Processing: from an instant processOrder (hand-over and messaging alone) to the 30 s deadline.
// No bound at 0.1: an attempt of the default PROCESSING_TIME_MS=100 takes a few milliseconds more
// with its hand-over, so every one fell just past such a bound, and histogram_quantile (linear
// within a bucket) put the p50 of (0.1, 0.25] far above the mean (figures: docs/PERFORMANCE.md).
// (0.09, 0.12] holds them well inside a narrow bucket: p50, p90 and p99 come out within 10%
// (registry.test.ts); 0.075 and 0.15 keep a somewhat faster or slower fulfilment as sharp.
const PROCESSING = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.09, 0.12, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
// Queue calls: from a sub-millisecond round trip to a statement past a 10 s client timeout.
const CALLS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// Queue wait: from an idle queue (milliseconds) to a backlog of minutes.
const WAIT = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/** An order's total in units of its currency (a float: a counter is a float anyway). */
const orderValue = ({ currency, totalMinor }: Pick<NewOrder, "currency" | "totalMinor">) =>
  totalMinor / 10 ** storedDigits(currency);

/** The queue's counters and histograms, every series there from the start. */
function queueInstruments(registers: Registry[]) {
  const created = new Counter({
    name: "orders_created_total",
    help: "Orders created (an identical replay of an order_id creates none)",
    registers,
  });
  const value = new Counter({
    name: "order_value_created_total",
    help: "Value of the orders created, in units of their currency (USD, not cents), by ISO 4217 code",
    labelNames: ["currency"],
    registers,
  });
  const transitions = new Counter({
    name: "order_transitions_total",
    help: "Orders this process moved from one status to another (processing -> pending: a retry or a release)",
    labelNames: ["from", "to"],
    registers,
  });
  const retries = new Counter({
    name: "order_retries_total",
    help: "Failed attempts put back to pending, to run again after a backoff",
    registers,
  });
  const failures = new Counter({
    name: "order_failures_total",
    help: "Orders failed for good: their last allowed attempt (MAX_ATTEMPTS) failed",
    registers,
  });
  const processing = new Histogram({
    name: "order_processing_duration_seconds",
    help: "One attempt, from its hand-over to a worker thread to its result, by outcome (completed, retry, failed, cancelled: a cancelled order's steps undone)",
    labelNames: ["outcome"],
    buckets: PROCESSING,
    registers,
  });
  const queueWait = new Histogram({
    name: "order_queue_wait_seconds",
    help: "From an order's creation to the start of its first attempt",
    buckets: WAIT,
    registers,
  });
  const leaseTicksSkipped = new Counter({
    name: "order_lease_ticks_skipped_total",
    help: "Lease ticks (renewal and rescue, every third of LEASE_MS) skipped because the previous one was still running",
    registers,
  });
  const claimsLost = new Counter({
    name: "order_claims_lost_total",
    help: "Attempts whose claim this process lost (lease ran out before renewal, or renewed by no one): not started, or aborted",
    registers,
  });
  const calls = new Histogram({
    name: "order_queue_call_duration_seconds",
    help: "The dispatcher's storage calls (pump, renewal, rescue), from the call to its answer on the main thread; LEASE_MS should be well over 3x their p99",
    labelNames: ["call"],
    buckets: CALLS,
    registers,
  });
  for (const call of ["pump", "renewal", "rescue"] as const) calls.zero({ call });
  // Per step of a module's steps (docs/STEPS.md): the names are the module's, so bounded by it.
  const steps = new Counter({
    name: "order_steps_total",
    help: "Step outcomes of a module's steps, committed: completed, failed (the attempt failed in it), compensated, compensation_failed",
    labelNames: ["step", "outcome"],
    registers,
  });
  const stepDuration = new Histogram({
    name: "order_step_duration_seconds",
    help: "How long a step's run (completed) or compensate (compensated) took on its worker thread",
    labelNames: ["step", "outcome"],
    buckets: PROCESSING,
    registers,
  });
  // Every series from the start, so a rate over a fresh process is 0, not absent.
  for (const labels of [CLAIMED, RELEASED, CANCELLED, ...Object.values(SETTLED)]) transitions.inc(labels, 0);
  for (const labels of Object.values(OUTCOMES)) processing.zero(labels);
  return {
    created,
    value,
    transitions,
    retries,
    failures,
    processing,
    queueWait,
    leaseTicksSkipped,
    claimsLost,
    calls,
    steps,
    stepDuration,
  };
}

/** The gauges that read `sources` at each scrape. */
function watchQueue(registers: Registry[], sources: QueueSources): void {
  new Gauge({
    name: "orders",
    help: "Orders by status now; pending is the queue depth",
    labelNames: ["status"],
    registers,
    async collect() {
      const { byStatus } = await sources.countOrders();
      for (const status of ORDER_STATUSES) this.set({ status }, byStatus[status]);
    },
  });
  new Gauge({
    name: "worker_slots_busy",
    help: "Worker slots holding an order now (orders processing in this process)",
    registers,
    collect() {
      this.set(sources.slots().busy);
    },
  });
  new Gauge({
    name: "worker_slots_capacity",
    help: "Worker slots of the threads that are up (threads x WORKER_CONCURRENCY)",
    registers,
    collect() {
      this.set(sources.slots().capacity);
    },
  });
}

/** The order counters and histograms, the dispatcher's observer, and the scrape-time gauges. */
export function createQueueMetrics(registry: Registry) {
  const registers = [registry];
  const m = queueInstruments(registers);
  // Label sets made once per step and outcome (the module's few), not per observation.
  const labelSets = new Map<string, { step: string; outcome: StepOutcomeLabel }>();
  const stepLabels = (step: string, outcome: StepOutcomeLabel) => {
    const key = `${step}\u0000${outcome}`;
    let labels = labelSets.get(key);
    if (!labels) {
      labels = { step, outcome };
      labelSets.set(key, labels);
    }
    return labels;
  };
  const observer: QueueObserver = {
    claimed(order: Order) {
      m.transitions.inc(CLAIMED);
      const waitedMs = queueWaitMs(order);
      if (waitedMs !== undefined) m.queueWait.observe(waitedMs / 1000);
    },
    settled(outcome, tookMs) {
      m.transitions.inc(SETTLED[outcome]);
      m.processing.observe(OUTCOMES[outcome], tookMs / 1000);
      if (outcome === "retry") m.retries.inc();
      else if (outcome === "failed") m.failures.inc();
    },
    released(count) {
      if (count > 0) m.transitions.inc(RELEASED, count);
    },
    leaseTickSkipped: () => m.leaseTicksSkipped.inc(),
    claimLost: () => m.claimsLost.inc(),
    timed: (call, ms) => m.calls.observe(CALL_LABELS[call], ms / 1000),
    step(name, outcome, ms) {
      const labels = stepLabels(name, outcome);
      m.steps.inc(labels);
      if (ms !== undefined && (outcome === "completed" || outcome === "compensated"))
        m.stepDuration.observe(labels, ms / 1000);
    },
  };

  return {
    observer,
    /** A new order was committed (pending): counted, and its value added under its currency. */
    created: (order: Pick<NewOrder, "currency" | "totalMinor">) => {
      m.created.inc();
      m.value.inc({ currency: order.currency }, orderValue(order));
    },
    /** An order was changed by id (a cancel, an operator's retry). */
    changed: (transition: Transition) => m.transitions.inc(labelsOf(transition)),
    /** Registers the gauges that read `sources` at each scrape. */
    watch: (sources: QueueSources) => watchQueue(registers, sources),
  };
}
