import { expect, test } from "bun:test";
import { cancelled } from "../lifecycle.ts";
import type { Order } from "../records/order.ts";
import { createMetrics } from "./registry.ts";

// What the dispatcher passes along; the metrics read only the outcome and the time.
const SETTLED = { seq: 1, owner: "w1", transition: cancelled() };

const order = (overrides: Partial<Order>): Order => ({
  seq: 1,
  orderId: "order-secret-1",
  userId: "user-secret-1",
  itemIds: ["item"],
  currency: "USD",
  totalMinor: 100,
  cart: null,
  steps: [],
  cancelRequestedAt: null,
  traceParent: null,
  status: "processing",
  createdAt: 1_000,
  startedAt: 1_250,
  completedAt: null,
  attempts: 1,
  lastError: null,
  ...overrides,
});

test("observeRequest counts by method, route template and status; unknown routes and methods get fixed labels", async () => {
  const metrics = createMetrics();
  metrics.knowRoutes(["/health", "/orders/:order_id"]);
  const base = { requestId: "req-secret-1", durationMs: 3 };
  metrics.observeRequest({ ...base, method: "GET", route: "/orders/:order_id", status: 200 });
  metrics.observeRequest({ ...base, method: "GET", route: "/orders/:order_id", status: 200, durationMs: 7 });
  metrics.observeRequest({ ...base, method: "GET", route: "/orders/order-secret-2", status: 404 });
  metrics.observeRequest({ ...base, method: "GET", route: "", status: 404 });
  metrics.observeRequest({ ...base, method: "BREW", route: "/health", status: 405 });
  const text = await metrics.prometheus.render();
  const series = (labels: string) => `http_request_duration_seconds_count{${labels}}`;
  expect(text).toContain(`${series('method="GET",route="/orders/:order_id",status="200"')} 2\n`);
  expect(text).toContain(
    'http_request_duration_seconds_sum{method="GET",route="/orders/:order_id",status="200"} 0.01\n',
  );
  expect(text).toContain(`${series('method="GET",route="unmatched",status="404"')} 2\n`);
  expect(text).toContain(`${series('method="OTHER",route="/health",status="405"')} 1\n`);
  expect(text).not.toContain("secret");
});

test("the queue observer: transitions, retries, failures, first-attempt waits, processing by outcome", async () => {
  const metrics = createMetrics();
  metrics.queue.claimed(order({}));
  metrics.queue.claimed(order({ attempts: 2, startedAt: 9_000 })); // a retry: no queue wait
  metrics.queue.settled("retry", 40, SETTLED);
  metrics.queue.settled("failed", 60, SETTLED);
  metrics.queue.released(3);
  metrics.orderCreated({ currency: "JPY", totalMinor: 1500 });
  metrics.orderCreated({ currency: "KWD", totalMinor: 1234 });
  metrics.orderChanged(cancelled());
  const text = await metrics.prometheus.render();
  for (const line of [
    "orders_created_total 2",
    'order_value_created_total{currency="JPY"} 1500',
    'order_value_created_total{currency="KWD"} 1.234',
    'order_transitions_total{from="pending",to="processing"} 2',
    'order_transitions_total{from="processing",to="pending"} 4',
    'order_transitions_total{from="processing",to="failed"} 1',
    'order_transitions_total{from="processing",to="completed"} 0',
    'order_transitions_total{from="pending",to="cancelled"} 1',
    "order_retries_total 1",
    "order_failures_total 1",
    "order_queue_wait_seconds_count 1",
    "order_queue_wait_seconds_sum 0.25",
    'order_processing_duration_seconds_count{outcome="retry"} 1',
    'order_processing_duration_seconds_sum{outcome="failed"} 0.06',
    'order_processing_duration_seconds_count{outcome="completed"} 0',
  ]) {
    expect(text).toContain(`\n${line}\n`);
  }
  expect(text).not.toContain("secret");
});

test("writer batches, scrape-time gauges, and only the process metrics that hold on Bun", async () => {
  const metrics = createMetrics();
  metrics.observeBatches([
    { size: 3, commitSeconds: 0.002, fsyncSeconds: 0.001 },
    { size: 5, commitSeconds: 0.004 },
  ]);
  metrics.watch({
    countOrders: async () => ({
      byStatus: { pending: 7, processing: 2, completed: 40, failed: 1, cancelled: 0 },
    }),
    slots: () => ({ busy: 2, capacity: 128 }),
  });
  const text = await metrics.prometheus.render();
  for (const line of [
    "db_write_batch_size_count 2",
    "db_write_batch_size_sum 8",
    "db_write_commit_duration_seconds_count 2",
    "db_write_fsync_duration_seconds_count 1",
    'orders{status="pending"} 7',
    'orders{status="completed"} 40',
    'orders{status="cancelled"} 0',
    "worker_slots_busy 2",
    "worker_slots_capacity 128",
  ]) {
    expect(text).toContain(`\n${line}\n`);
  }
  expect(text).toContain("\nprocess_resident_memory_bytes ");
  expect(text).toContain("\nnodejs_eventloop_lag_max_seconds ");
  for (const wrong of [
    "process_heap_bytes",
    "nodejs_gc_duration_seconds",
    "nodejs_active_handles",
    "nodejs_heap_",
  ]) {
    expect(text).not.toContain(wrong);
  }
  expect(metrics.prometheus.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
});

test("each service instance has a registry of its own", async () => {
  const first = createMetrics();
  const second = createMetrics();
  first.orderCreated({ currency: "USD", totalMinor: 100 });
  expect(await first.prometheus.render()).toContain("\norders_created_total 1\n");
  expect(await second.prometheus.render()).toContain("\norders_created_total 0\n");
});

/**
 * Prometheus' `histogram_quantile` over one series' cumulative buckets: linear within the bucket
 * the rank falls in (from 0 for the first), the highest finite bound for a rank in +Inf.
 */
function histogramQuantile(q: number, buckets: { le: number; count: number }[]): number {
  const total = buckets.at(-1)?.count ?? 0;
  const rank = q * total;
  let [lower, below] = [0, 0];
  for (const { le, count } of buckets) {
    if (count >= rank)
      return le === Infinity ? lower : lower + ((le - lower) * (rank - below)) / (count - below);
    [lower, below] = [le, count];
  }
  return lower;
}

test("processing at the default 100 ms (plus 1-10 ms of hand-over): bucket quantiles within 10% of the truth", async () => {
  const metrics = createMetrics();
  // 101 to 110 ms, evenly: what the dispatcher measures for PROCESSING_TIME_MS=100.
  const tookMs = Array.from({ length: 1000 }, (_, i) => 101 + (i * 9) / 999);
  for (const ms of tookMs) metrics.queue.settled("completed", ms, SETTLED);
  const text = await metrics.prometheus.render();
  const buckets = [
    ...text.matchAll(/order_processing_duration_seconds_bucket\{le="([^"]+)",outcome="completed"\} (\d+)/g),
  ].map(([, le, count]) => ({ le: le === "+Inf" ? Infinity : Number(le), count: Number(count) }));
  expect(buckets.length).toBeGreaterThan(5);
  for (const q of [0.5, 0.9, 0.99]) {
    const truth = (tookMs[Math.ceil(q * tookMs.length) - 1] as number) / 1000;
    const estimate = histogramQuantile(q, buckets);
    const within10Percent = Math.abs(estimate - truth) / truth < 0.1;
    expect({ q, estimate, truth, within10Percent }).toMatchObject({ q, within10Percent: true });
  }
});
