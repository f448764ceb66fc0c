/**
 * `GET /metrics` in Prometheus' format, through real HTTP on a real service (real SQLite file,
 * real worker and writer threads): negotiation as Prometheus' scrapers do it, the seed's JSON
 * unchanged by default, and the counts of requests, orders, workers and writer moving with work.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { ORDER_STATUSES } from "../src/records/order.ts";
import { call, cleanup, order, queryDatabase, startService, type TestService, waitFor } from "./helpers.ts";

const TEXT_0_0_4 = "text/plain; version=0.0.4; charset=utf-8";
// Prometheus' scrape Accept headers: 2.x before 2.49; 2.49+ (scrape_protocols); 3.x defaults;
// and the 3.x form the issue quoted.
const SCRAPERS = {
  "Prometheus 2.x":
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
  "Prometheus 2.49+":
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
  "Prometheus 3.x":
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
  "Prometheus 3.x (as quoted)":
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8,application/openmetrics-text;version=0.0.1;q=0.9,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.8,text/plain;version=0.0.4;q=0.7,*/*;q=0.6",
};

/** One sample of the text format: name, labels, value. */
type Sample = { name: string; labels: Record<string, string>; value: number };

/** Parses the text format 0.0.4 (the subset prom-client writes). */
function parseSamples(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]),
      );
      return { name: match[1] ?? "", labels, value: Number(match[3]) };
    });
}

/** A scrape as Prometheus 2.x does it, parsed; `value` sums the samples matching name and labels. */
async function scrape(url: URL) {
  const response = await fetch(new URL("/metrics", url), { headers: { accept: SCRAPERS["Prometheus 2.x"] } });
  expect(response.headers.get("content-type")).toBe(TEXT_0_0_4);
  const text = await response.text();
  const samples = parseSamples(text);
  return {
    text,
    samples,
    value(name: string, labels: Record<string, string> = {}): number {
      return samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0);
    },
  };
}

const post = (url: URL, id: string, user = "user_123") =>
  call(url, "POST", "/orders", order(id, { user_id: user }));

describe("negotiation, on one service", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startService({ PROCESSING_TIME_MS: "2" });
  });
  afterAll(cleanup);

  for (const [scraper, accept] of Object.entries(SCRAPERS)) {
    test(`${scraper}'s Accept header gets the text format 0.0.4`, async () => {
      const response = await fetch(new URL("/metrics", service.url), { headers: { accept } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe(TEXT_0_0_4);
      const text = await response.text();
      expect(text).toContain("# TYPE orders_created_total counter\norders_created_total ");
      expect(text).not.toContain("# EOF"); // not OpenMetrics
      expect(parseSamples(text).length).toBeGreaterThan(50);
    });
  }

  test("?format=prometheus forces the text format, over any Accept", async () => {
    for (const accept of [undefined, "application/json", "*/*"]) {
      const response = await fetch(new URL("/metrics?format=prometheus", service.url), {
        headers: accept ? { accept } : {},
      });
      expect({ accept, status: response.status, type: response.headers.get("content-type") }).toEqual({
        accept,
        status: 200,
        type: TEXT_0_0_4,
      });
      expect(await response.text()).toContain("\n# TYPE http_request_duration_seconds histogram\n");
    }
  });

  test("by default the answer is the seed's JSON, byte for byte what the rows say", async () => {
    for (let i = 0; i < 5; i++) expect((await post(service.url, `json-${i}`)).status).toBe(201);
    await waitFor(
      async () => (await call(service.url, "GET", "/metrics")).body.status_counts.completed === 5,
    );
    const path = service.config.databasePath;
    const counts = Object.fromEntries(ORDER_STATUSES.map((status) => [status, 0]));
    for (const { status, n } of queryDatabase<{ status: string; n: number }>(
      path,
      "select status, count(*) as n from orders group by status",
    )) {
      counts[status] = n;
    }
    const [{ ms = 0 } = {}] = queryDatabase<{ ms: number }>(
      path,
      "select sum(completed_at - started_at) as ms from orders where status = 'completed'",
    );
    const expected = JSON.stringify({
      total_orders: 5,
      average_processing_time: ms / 5 / 1000,
      status_counts: counts,
    });
    const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for (const [target, accept] of [
      ["/metrics", undefined],
      ["/metrics", "*/*"],
      ["/metrics", "application/json"],
      ["/metrics", browser],
      ["/metrics", "application/json, text/plain"],
      ["/metrics?format=json", SCRAPERS["Prometheus 3.x"]],
    ] as const) {
      const response = await fetch(new URL(target, service.url), { headers: accept ? { accept } : {} });
      expect({ target, accept, status: response.status, body: await response.text() }).toEqual({
        target,
        accept,
        status: 200,
        body: expected,
      });
      expect(response.headers.get("content-type")).toStartWith("application/json");
    }
  });

  test("an unknown ?format= is a 422 in the error envelope", async () => {
    const answer = await call(service.url, "GET", "/metrics?format=openmetrics");
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe("VALIDATION_FAILED");
    expect(answer.body.error.message).toContain("format");
  });
});

describe("counts move with the work", () => {
  afterEach(cleanup);

  test("processing N orders: created, transitions, processing and queue-wait histograms, writer batches", async () => {
    const { url, config } = await startService({ PROCESSING_TIME_MS: "2" });
    const before = await scrape(url);
    const n = 30;
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) => post(url, `flow-${i}`, `user-${i}`)),
    );
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect((await post(url, "flow-0", "user-0")).status).toBe(200); // a replay creates nothing
    // The rows can be read before the dispatcher has the commit's answer: wait for its count.
    const completed = { outcome: "completed" };
    await waitFor(
      async () => (await scrape(url)).value("order_processing_duration_seconds_count", completed) === n,
    );
    const after = await scrape(url);
    const grew = (name: string, labels: Record<string, string> = {}) =>
      after.value(name, labels) - before.value(name, labels);

    expect({
      created: grew("orders_created_total"),
      claimed: grew("order_transitions_total", { from: "pending", to: "processing" }),
      completed: grew("order_transitions_total", { from: "processing", to: "completed" }),
      processed: grew("order_processing_duration_seconds_count", completed),
      waited: grew("order_queue_wait_seconds_count"),
      retries: grew("order_retries_total"),
      failures: grew("order_failures_total"),
    }).toEqual({ created: n, claimed: n, completed: n, processed: n, waited: n, retries: 0, failures: 0 });
    // Every order was written by the writer thread: at least one batch, commit and fsync for them.
    expect(grew("db_write_batch_size_count")).toBeGreaterThan(0);
    expect(grew("db_write_batch_size_sum")).toBeGreaterThanOrEqual(n);
    expect(grew("db_write_commit_duration_seconds_count")).toBeGreaterThan(0);
    expect(grew("db_write_fsync_duration_seconds_count")).toBeGreaterThan(0);
    // Processing took at least PROCESSING_TIME_MS per order.
    expect(grew("order_processing_duration_seconds_sum")).toBeGreaterThanOrEqual((n * 2) / 1000);
    expect(after.value("orders", { status: "pending" })).toBe(0);
    expect(after.value("worker_slots_busy")).toBe(0);
    expect(after.value("worker_slots_capacity")).toBe(config.workers * config.workerConcurrency);
    expect(after.value("process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(after.samples.some((s) => s.name === "nodejs_eventloop_lag_max_seconds")).toBe(true);
  });

  test("a failing order moves retries and failures (PROCESSING_FAILURE_RATE=1, MAX_ATTEMPTS=2)", async () => {
    const { url } = await startService({ PROCESSING_FAILURE_RATE: "1", MAX_ATTEMPTS: "2" });
    await post(url, "doomed");
    await waitFor(async () => (await scrape(url)).value("order_failures_total") === 1);
    const after = await scrape(url);
    expect({
      retries: after.value("order_retries_total"),
      failures: after.value("order_failures_total"),
      claimed: after.value("order_transitions_total", { from: "pending", to: "processing" }),
      retried: after.value("order_transitions_total", { from: "processing", to: "pending" }),
      failed: after.value("order_transitions_total", { from: "processing", to: "failed" }),
      attemptsRetried: after.value("order_processing_duration_seconds_count", { outcome: "retry" }),
      attemptsFailed: after.value("order_processing_duration_seconds_count", { outcome: "failed" }),
      waited: after.value("order_queue_wait_seconds_count"), // the first attempt's start only
      failedNow: after.value("orders", { status: "failed" }),
    }).toEqual({
      retries: 1,
      failures: 1,
      claimed: 2,
      retried: 1,
      failed: 1,
      attemptsRetried: 1,
      attemptsFailed: 1,
      waited: 1,
      failedNow: 1,
    });
  });

  test("slots busy, orders by status and cancels, while an order is processing", async () => {
    const { url } = await startService({
      WORKERS: "1",
      WORKER_CONCURRENCY: "1",
      PROCESSING_TIME_MS: "3000",
      SHUTDOWN_TIMEOUT_MS: "0", // the held order goes back to pending at the end
    });
    await post(url, "slow-1");
    await post(url, "slow-2");
    await waitFor(async () => (await scrape(url)).value("worker_slots_busy") === 1);
    expect((await call(url, "POST", "/orders/slow-2/cancel")).status).toBe(200);
    const now = await scrape(url);
    expect({
      busy: now.value("worker_slots_busy"),
      capacity: now.value("worker_slots_capacity"),
      processing: now.value("orders", { status: "processing" }),
      cancelled: now.value("orders", { status: "cancelled" }),
      cancels: now.value("order_transitions_total", { from: "pending", to: "cancelled" }),
    }).toEqual({ busy: 1, capacity: 1, processing: 1, cancelled: 1, cancels: 1 });
  });

  test("labels never carry an order id, a user id or a raw path", async () => {
    const { url } = await startService();
    await post(url, "label-order-7f3a", "label-user-9c1e");
    await call(url, "GET", "/orders/label-order-7f3a");
    await call(url, "GET", "/orders/label-missing-42/status");
    await call(url, "GET", "/label-nowhere-0b5d");
    await waitFor(async () => (await scrape(url)).value("orders", { status: "completed" }) === 1);
    const { text, samples } = await scrape(url);
    expect(text).not.toContain("label-");
    for (const sample of samples) {
      for (const value of Object.values(sample.labels)) expect(value.length).toBeLessThan(40);
    }
  });
});

// Needs the HTTP policy's one request lifecycle hook (src/http/policy.ts calling
// `deps.http.onResponse` once per answered request); server.ts wires it to the histogram.
test("the request histogram counts this test's requests, by method, route template and status", async () => {
  const { url } = await startService();
  const before = await scrape(url);
  for (let i = 0; i < 3; i++) await call(url, "GET", "/health");
  await post(url, "http-1");
  await call(url, "GET", "/orders/http-1");
  await call(url, "GET", "/orders/http-missing");
  await call(url, "GET", "/no-such-route");
  const counts = async () => {
    const after = await scrape(url);
    const grew = (labels: Record<string, string>) =>
      after.value("http_request_duration_seconds_count", labels) -
      before.value("http_request_duration_seconds_count", labels);
    return {
      health: grew({ method: "GET", route: "/health", status: "200" }),
      created: grew({ method: "POST", route: "/orders", status: "201" }),
      found: grew({ method: "GET", route: "/orders/:order_id", status: "200" }),
      missing: grew({ method: "GET", route: "/orders/:order_id", status: "404" }),
      unmatched: grew({ method: "GET", route: "unmatched", status: "404" }),
      rawPath: after.text.includes("no-such-route") || after.text.includes("http-missing"),
    };
  };
  const expected = { health: 3, created: 1, found: 1, missing: 1, unmatched: 1, rawPath: false };
  // A request is observed once answered (after its response may have left): give the last a moment.
  await waitFor(async () => Bun.deepEquals(await counts(), expected), { timeoutMs: 2000 }).catch(() => {});
  expect(await counts()).toEqual(expected);
  await cleanup();
});
