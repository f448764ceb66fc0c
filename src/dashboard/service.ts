/**
 * The dashboard's data: the whole system at a glance, computed at most once per second and shared
 * by every open dashboard (ten open pages cost what one does), and this replica's publication of
 * its own activity every second so that any replica can serve the whole picture. The webhooks
 * section is webhooks.ts's.
 */

import { formatMinor, storedDigits } from "../kit/currency.ts";
import type { Logger } from "../kit/logger.ts";
import type { StepActivity } from "../records/activity.ts";
import { ORDER_STATUSES, type Order, type OrderStatus, stepStates } from "../records/order.ts";
import type { OrderCounts } from "../system/store.ts";
import type { DashboardWebhooks } from "./model.ts";
import type { DashboardStore } from "./store.ts";
import { WebhookLag, type WebhookLagDeps } from "./webhooks.ts";
import { type ActivityWindow, addStep, emptyStep, mergeBuckets, quantileMs, WINDOW_S } from "./window.ts";

/** What the dashboard needs. */
export type DashboardDeps = {
  store: DashboardStore;
  countOrders: () => Promise<OrderCounts>;
  /** The oldest event kept (retention deletes the oldest first). */
  oldestEvent: () => Promise<{ at: number } | undefined>;
  window: ActivityWindow;
  slots: () => { busy: number; capacity: number };
  /** The webhooks' outbox and subscriptions, and when one lags (WEBHOOK_LAGGING_AFTER_MS). */
  webhooks: WebhookLagDeps;
  /** This process's name in the published reports. */
  replica: string;
  now: () => number;
  log: Logger;
};

type Percentiles = { p50: number | null; p95: number | null; p99: number | null };

/** `GET /dashboard/data`: what the page shows (it computes the per-second rates from two of these). */
export type DashboardData = {
  at: string;
  /** Replicas that published in the last few seconds (1 on SQLite). */
  replicas: number;
  /** Orders by status now, and in all (the rates of created and completed come from these). */
  orders: { total: number; by_status: Record<OrderStatus, number> };
  /** Since when the history is kept: the oldest event (ISO time), null when there is none. */
  history: { oldest_event_at: string | null };
  /** Retries and failures since the replicas started, summed (a restart resets its share). */
  retries_total: number;
  failures_total: number;
  /** Over the last `window_s` seconds, all replicas. */
  window_s: number;
  queue_wait_ms: Percentiles;
  processing_ms: Percentiles;
  slots: { busy: number; capacity: number };
  /** The latest failed orders, newest first, with why. */
  recent_failures: {
    order_id: string;
    user_id: string;
    attempts: number;
    last_error: string | null;
    created_at: string;
    /** A module's steps: the step it failed in, and whether its completed steps were undone. */
    failed_step: string | null;
    compensation: "compensated" | "compensation_failed" | null;
  }[];
  /** Webhook subscriptions behind, the lagging ones flagged. */
  webhooks: DashboardWebhooks;
  /** Value of the orders accepted over the last `window_s`, all replicas, by currency. */
  value_accepted: { currency: string; amount: string; minor: number }[];
  /** A module's steps over the last `window_s`, all replicas, in pipeline order. */
  steps: {
    name: string;
    completed: number;
    failed: number;
    compensated: number;
    compensation_failed: number;
    p50_ms: number | null;
    p95_ms: number | null;
  }[];
};

const PUBLISH_MS = 1000;
// A replica whose report is older than this is gone (or stalled) and left out.
const FRESH_MS = 5000;
const FAILURES_SHOWN = 10;

const percentiles = (buckets: number[]): Percentiles => ({
  p50: quantileMs(buckets, 0.5),
  p95: quantileMs(buckets, 0.95),
  p99: quantileMs(buckets, 0.99),
});

export class Dashboard {
  #cache: { second: number; data: Promise<DashboardData> } | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #webhooks: WebhookLag;

  constructor(private readonly deps: DashboardDeps) {
    this.#webhooks = new WebhookLag(deps.webhooks, deps.now);
  }

  /** An order was accepted here: its value counts in this replica's next reports. */
  accepted(order: Pick<Order, "currency" | "totalMinor">): void {
    this.deps.window.accepted(order);
  }

  /** Publishes this replica's activity every second until `stop`. */
  start(): void {
    const publish = () => {
      const report = {
        replica: this.deps.replica,
        at: this.deps.now(),
        ...this.deps.window.snapshot(this.deps.slots()),
      };
      this.deps.store
        .publishActivity(report)
        .catch((error) =>
          this.deps.log("warn", "could not publish dashboard activity", { error: String(error) }),
        );
    };
    publish();
    this.#timer = setInterval(publish, PUBLISH_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The data of this second: computed by the first request of each second, shared by the rest. */
  data(): Promise<DashboardData> {
    const second = Math.floor(this.deps.now() / 1000);
    if (this.#cache?.second !== second) {
      const data = this.#compute();
      // A failed read is not cached: the next request tries again.
      data.catch(() => {
        if (this.#cache?.data === data) this.#cache = undefined;
      });
      this.#cache = { second, data };
    }
    return this.#cache.data;
  }

  async #compute(): Promise<DashboardData> {
    const now = this.deps.now();
    const [counts, reports, failures, webhooks, oldest] = await Promise.all([
      this.deps.countOrders(),
      this.deps.store.readActivity(now - FRESH_MS),
      this.deps.store.listRecentFailures(FAILURES_SHOWN),
      this.#webhooks.section(now),
      this.deps.oldestEvent(),
    ]);
    const byStatus = Object.fromEntries(ORDER_STATUSES.map((s) => [s, counts.byStatus[s] ?? 0])) as Record<
      OrderStatus,
      number
    >;
    const sum = (pick: (r: (typeof reports)[number]) => number) =>
      reports.reduce((total, r) => total + pick(r), 0);
    return {
      at: new Date(now).toISOString(),
      replicas: reports.length,
      orders: { total: Object.values(byStatus).reduce((a, b) => a + b, 0), by_status: byStatus },
      history: { oldest_event_at: oldest === undefined ? null : new Date(oldest.at).toISOString() },
      retries_total: sum((r) => r.retriesTotal),
      failures_total: sum((r) => r.failuresTotal),
      window_s: WINDOW_S,
      queue_wait_ms: percentiles(mergeBuckets(reports.map((r) => r.waitBuckets))),
      processing_ms: percentiles(mergeBuckets(reports.map((r) => r.processingBuckets))),
      slots: { busy: sum((r) => r.slotsBusy), capacity: sum((r) => r.slotsCapacity) },
      recent_failures: failures.map((order) => ({
        order_id: order.orderId,
        user_id: order.userId,
        attempts: order.attempts,
        last_error: order.lastError,
        created_at: new Date(order.createdAt).toISOString(),
        failed_step: failedStepOf(order),
        compensation: compensationOf(order),
      })),
      webhooks,
      value_accepted: valueByCurrency(reports.map((r) => r.valueByCurrency ?? {})),
      steps: stepsOf(reports.map((r) => r.steps ?? {})),
    };
  }
}

/** The step a failed order failed in (a module's steps: recorded on its last forward attempt). */
function failedStepOf(order: Order): string | null {
  for (const [name, { latest }] of stepStates(order.steps)) if (latest.status === "failed") return name;
  return null;
}

/**
 * Whether a failed order's completed steps were undone (a module's steps): `compensation_failed`
 * if one's compensation gave up, `compensated` if some were undone, else null.
 */
function compensationOf(order: Order): "compensated" | "compensation_failed" | null {
  const statuses = [...stepStates(order.steps).values()].map(({ latest }) => latest.status);
  if (statuses.includes("compensation_failed")) return "compensation_failed";
  return statuses.includes("compensated") ? "compensated" : null;
}

/** Each step over every replica's window: its outcomes, and its run time's p50 and p95. */
function stepsOf(all: Record<string, StepActivity>[]): DashboardData["steps"] {
  const merged = new Map<string, StepActivity>();
  for (const steps of all)
    for (const [name, step] of Object.entries(steps)) {
      const into = merged.get(name) ?? emptyStep();
      addStep(into, step);
      merged.set(name, into);
    }
  return [...merged].map(([name, step]) => ({
    name,
    completed: step.buckets.reduce((sum, n) => sum + n, 0),
    failed: step.failed,
    compensated: step.compensated,
    compensation_failed: step.compensationFailed,
    p50_ms: quantileMs(step.buckets, 0.5),
    p95_ms: quantileMs(step.buckets, 0.95),
  }));
}

/**
 * Sums replicas' values per currency, in BigInt: a minute of huge orders may pass 2^53 minor units,
 * and the sum is exact whatever it comes to (`minor` is then the nearest number). By currency code.
 */
function valueByCurrency(all: Record<string, number>[]): DashboardData["value_accepted"] {
  const sums = new Map<string, bigint>();
  for (const values of all) {
    for (const [currency, minor] of Object.entries(values)) {
      if (Number.isFinite(minor)) sums.set(currency, (sums.get(currency) ?? 0n) + BigInt(Math.trunc(minor)));
    }
  }
  return [...sums]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, minor]) => ({
      currency,
      amount: formatMinor(minor, storedDigits(currency)),
      minor: Number(minor),
    }));
}
