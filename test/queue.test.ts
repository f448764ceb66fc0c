/** The durable four-worker queue: throughput of a burst, retries, capacity, worker death, metrics. */
import { afterEach, expect, spyOn, test } from "bun:test";
import { call, cleanup, metrics, order, queryService, startService, waitFor } from "./helpers.ts";

afterEach(cleanup);

test("1,000 concurrent POSTs are all accepted and all completed", async () => {
  const { url } = await startService({ PROCESSING_TIME_MS: "1" });
  const answers = await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      call(url, "POST", "/orders", order(`burst-${i}`, { user_id: `user_${i}` })),
    ),
  );
  expect(answers.filter((a) => a.status === 201)).toHaveLength(1000);
  await waitFor(async () => (await metrics(url)).status_counts.completed === 1000, { timeoutMs: 30_000 });
  const final = await metrics(url);
  expect(final.total_orders).toBe(1000);
  expect(final.status_counts).toEqual({
    pending: 0,
    processing: 0,
    completed: 1000,
    failed: 0,
    cancelled: 0,
  });
});

test("a failing order is retried with backoff, then marked failed with its last error", async () => {
  const { url } = await startService({ PROCESSING_FAILURE_RATE: "1", MAX_ATTEMPTS: "3", RETRY_BASE_MS: "5" });
  await call(url, "POST", "/orders", order("doomed"));
  const failed = await waitFor(async () => {
    const body = (await call(url, "GET", "/orders/doomed")).body;
    return body.status === "failed" && body;
  });
  expect(failed).toMatchObject({
    attempts: 3,
    last_error: "simulated fulfilment failure",
    completed_at: null,
  });
  expect((await metrics(url)).status_counts.failed).toBe(1);
});

test("orders that fail some attempts are retried until they complete", async () => {
  // A 30% failure rate and 8 attempts: an order fails for good with odds 0.3^8, about 1 in 15,000.
  const { url } = await startService({
    PROCESSING_FAILURE_RATE: "0.3",
    MAX_ATTEMPTS: "8",
    RETRY_BASE_MS: "1",
  });
  const ids = Array.from({ length: 40 }, (_, i) => `flaky-${i}`);
  for (const id of ids) await call(url, "POST", "/orders", order(id));
  await waitFor(async () => (await metrics(url)).status_counts.completed === ids.length);
  const orders = await Promise.all(ids.map(async (id) => (await call(url, "GET", `/orders/${id}`)).body));
  const retried = orders.filter((o) => o.attempts > 1);
  expect(retried.length).toBeGreaterThan(0);
  for (const o of retried) expect(o.last_error).toBe("simulated fulfilment failure");
});

test("never claims more orders than the workers can run: the rest stay pending", async () => {
  const { url } = await startService({ WORKERS: "2", WORKER_CONCURRENCY: "3", PROCESSING_TIME_MS: "300" });
  for (let i = 0; i < 20; i++) await call(url, "POST", "/orders", order(`cap-${i}`));
  let peak = 0;
  await waitFor(async () => {
    const counts = (await metrics(url)).status_counts;
    peak = Math.max(peak, counts.processing);
    expect(counts.processing).toBeLessThanOrEqual(6);
    return counts.completed === 20;
  });
  expect(peak).toBe(6);
});

test("while every worker slot is busy, new orders cost the queue no database call", async () => {
  const { url, server } = await startService({
    WORKERS: "1",
    WORKER_CONCURRENCY: "1",
    PROCESSING_TIME_MS: "5000",
    SHUTDOWN_TIMEOUT_MS: "100",
  });
  await call(url, "POST", "/orders", order("busy-0"));
  await waitFor(async () => (await metrics(url)).status_counts.processing === 1);
  // Each stored order wakes the queue; with no slot free there is nothing to record or claim.
  const pumps = spyOn(server.storage.queue, "settleAndClaim");
  for (let i = 1; i <= 50; i++) await call(url, "POST", "/orders", order(`busy-${i}`));
  await Bun.sleep(200);
  expect(pumps).not.toHaveBeenCalled();
  pumps.mockRestore();
  expect((await metrics(url)).status_counts).toMatchObject({ pending: 50, processing: 1 });
});

test("a worker thread that dies is replaced and its orders are taken up again", async () => {
  const { url, server } = await startService({
    WORKERS: "2",
    WORKER_CONCURRENCY: "4",
    PROCESSING_TIME_MS: "400",
  });
  await waitFor(async () => (await call(url, "GET", "/ready")).status === 200);
  for (let i = 0; i < 8; i++) await call(url, "POST", "/orders", order(`orphan-${i}`));
  await waitFor(async () => (await metrics(url)).status_counts.processing === 8);

  // Kill one real worker thread mid-processing.
  server.dispatcher.pool.kill(0);
  const notReady = await waitFor(async () => {
    const res = await call(url, "GET", "/ready");
    return res.status === 503 && res;
  });
  expect(notReady.body.error.code).toBe("NOT_READY");

  await waitFor(async () => (await call(url, "GET", "/ready")).status === 200);
  await waitFor(async () => (await metrics(url)).status_counts.completed === 8);
  const retried = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => (await call(url, "GET", `/orders/orphan-${i}`)).body.attempts),
  );
  expect(retried.filter((n) => n === 2)).toHaveLength(4);
});

test("metrics add up to the rows: counts per status and the mean processing time", async () => {
  const { url, config } = await startService({
    PROCESSING_TIME_MS: "5",
    PROCESSING_FAILURE_RATE: "0.3",
    MAX_ATTEMPTS: "2",
  });
  const empty = await metrics(url);
  expect(empty).toEqual({
    total_orders: 0,
    average_processing_time: 0,
    status_counts: { pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 },
  });
  for (let i = 0; i < 60; i++) await call(url, "POST", "/orders", order(`m-${i}`));
  await waitFor(async () => {
    const c = (await metrics(url)).status_counts;
    return c.completed + c.failed === 60;
  });
  const expected = await queryService<{ status: string; n: number }>(config, {
    sqlite: "select status, count(*) as n from orders group by status",
    postgres: "select status, count(*)::int as n from orders group by status",
  });
  const [mean] = await queryService<{ s: number }>(config, {
    sqlite: "select avg(completed_at - started_at) / 1000.0 as s from orders where status = 'completed'",
    postgres:
      "select avg(extract(epoch from completed_at - started_at))::float8 as s from orders where status = 'completed'",
  });
  const actual = await metrics(url);
  expect(actual.total_orders).toBe(60);
  for (const { status, n } of expected)
    expect(actual.status_counts[status as keyof typeof actual.status_counts]).toBe(n);
  expect(actual.average_processing_time).toBeCloseTo(mean?.s ?? Number.NaN, 9);
  expect(actual.average_processing_time).toBeGreaterThanOrEqual(0.005);
});
