/**
 * Order events through real HTTP: each order's history, the operator retry, and the long-poll on
 * `GET /orders/:order_id/status`. Real SQLite files (or PostgreSQL with TEST_STORAGE=postgres),
 * real worker threads, and a real process killed with SIGKILL for the release after a crash.
 */
import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { call, cleanup, order, spawnService, startService, tempDir, waitFor } from "./helpers.ts";

afterEach(cleanup);

const GATED = join(import.meta.dir, "fixtures/process-order-gated.ts");

/** The event types of an order, oldest first. */
async function types(url: URL, orderId: string): Promise<string[]> {
  const res = await call(url, "GET", `/orders/${orderId}/events`);
  expect(res.status).toBe(200);
  return res.body.events.map((event: { type: string }) => event.type);
}

/** Waits until the order has `status`. */
const reach = (url: URL, orderId: string, status: string) =>
  waitFor(async () => (await call(url, "GET", `/orders/${orderId}/status`)).body.status === status, {
    what: `${orderId} to be ${status}`,
  });

test("a completed order's history: created, claimed, completed, with times and attempts", async () => {
  const { url } = await startService();
  const before = Date.now();
  expect((await call(url, "POST", "/orders", order("o1"))).status).toBe(201);
  await reach(url, "o1", "completed");
  const res = await call(url, "GET", "/orders/o1/events");
  expect(res.body.order_id).toBe("o1");
  const events = res.body.events;
  expect(events.map((e: { type: string }) => e.type)).toEqual(["created", "claimed", "completed"]);
  expect(events[0]).toMatchObject({
    order_id: "o1",
    user_id: "user_123",
    from_status: null,
    to_status: "pending",
    attempt: 0,
    details: null,
  });
  expect(events[1]).toMatchObject({ from_status: "pending", to_status: "processing", attempt: 1 });
  expect(events[2]).toMatchObject({ from_status: "processing", to_status: "completed", attempt: 1 });
  const times = events.map((e: { at: string }) => Date.parse(e.at));
  expect(times[0]).toBeGreaterThanOrEqual(before - 5);
  expect([...times].sort()).toEqual(times);
  expect(events[0].seq).toBeLessThan(events[1].seq);
  expect(events[1].seq).toBeLessThan(events[2].seq);
  expect((await call(url, "GET", "/orders/nope/events")).body.error.code).toBe("ORDER_NOT_FOUND");
});

test("retries, failed, an operator retry, then completed: every step is an event", async () => {
  const gates = tempDir();
  // Worker threads read the gate folder from the process environment.
  process.env.ORDER_GATES = gates;
  const { url } = await startService({
    PROCESS_ORDER_MODULE: GATED,
    MAX_ATTEMPTS: "2",
    RETRY_BASE_MS: "10",
  });
  await call(url, "POST", "/orders", order("gated-1"));
  await reach(url, "gated-1", "failed");
  const history = (await call(url, "GET", "/orders/gated-1/events")).body.events;
  expect(history.map((e: { type: string }) => e.type)).toEqual([
    "created",
    "claimed",
    "attempt_failed",
    "claimed",
    "failed",
  ]);
  expect(history[2].details.error).toBe("gate closed");
  expect(history[2].details.backoff_ms).toBeGreaterThanOrEqual(0);
  expect(history[4]).toMatchObject({ attempt: 2, details: { error: "gate closed" } });

  writeFileSync(join(gates, "gated-1"), "");
  const retried = await call(url, "POST", "/orders/gated-1/retry");
  expect(retried.status).toBe(200);
  expect(retried.body).toMatchObject({ order_id: "gated-1", attempts: 0 });
  await reach(url, "gated-1", "completed");
  expect((await types(url, "gated-1")).slice(5)).toEqual(["retried", "claimed", "completed"]);
  const events = (await call(url, "GET", "/orders/gated-1/events")).body.events;
  expect(events[5]).toMatchObject({ from_status: "failed", to_status: "pending", attempt: 0 });
  expect(events[5].details).toEqual({ previous_attempts: 2 });

  const again = await call(url, "POST", "/orders/gated-1/retry");
  expect(again.status).toBe(409);
  expect(again.body.error.code).toBe("ORDER_NOT_RETRYABLE");
  expect((await call(url, "POST", "/orders/nope/retry")).body.error.code).toBe("ORDER_NOT_FOUND");
});

test("a cancelled order's history ends with cancelled", async () => {
  const { url } = await startService({
    WORKERS: "1",
    WORKER_CONCURRENCY: "1",
    PROCESSING_TIME_MS: "60000",
    SHUTDOWN_TIMEOUT_MS: "0",
  });
  await call(url, "POST", "/orders", order("busy"));
  await reach(url, "busy", "processing");
  await call(url, "POST", "/orders", order("waiting"));
  expect((await call(url, "POST", "/orders/waiting/cancel")).status).toBe(200);
  expect(await types(url, "waiting")).toEqual(["created", "cancelled"]);
  const retry = await call(url, "POST", "/orders/waiting/retry");
  expect(retry.body.error.code).toBe("ORDER_NOT_RETRYABLE");
});

test("after kill -9 mid-processing, the restart's release is an event and the order completes", async () => {
  const db = join(tempDir(), "orders.db");
  const first = await spawnService({ DATABASE_PATH: db, PROCESSING_TIME_MS: "60000" });
  await call(first.url, "POST", "/orders", order("k1"));
  await reach(first.url, "k1", "processing");
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  const second = await spawnService({ DATABASE_PATH: db, PROCESSING_TIME_MS: "0" });
  await reach(second.url, "k1", "completed");
  const events = (await call(second.url, "GET", "/orders/k1/events")).body.events;
  expect(events.map((e: { type: string }) => e.type)).toEqual([
    "created",
    "claimed",
    "released",
    "claimed",
    "completed",
  ]);
  expect(events[2]).toMatchObject({
    from_status: "processing",
    to_status: "pending",
    details: { reason: "restart" },
  });
  expect(events[4].attempt).toBe(2);
  second.proc.kill("SIGTERM");
  await second.proc.exited;
});

test("long-poll answers at the transition, not at the timeout", async () => {
  const { url } = await startService({ PROCESS_ORDER_MODULE: GATED });
  await call(url, "POST", "/orders", order("slow-1"));
  const started = Date.now();
  const res = await call(url, "GET", "/orders/slow-1/status?wait_for=completed,failed&timeout_s=20");
  const tookMs = Date.now() - started;
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ order_id: "slow-1", status: "completed" });
  // The order takes 300 ms; the answer comes right after, far from the 20 s timeout.
  expect(tookMs).toBeLessThan(5_000);
});

test("long-poll answers at once when the order is already there, and at the timeout otherwise", async () => {
  const { url } = await startService();
  await call(url, "POST", "/orders", order("done"));
  await reach(url, "done", "completed");
  const now = await call(url, "GET", "/orders/done/status?wait_for=completed");
  expect(now.body).toEqual({ order_id: "done", status: "completed" });

  const started = Date.now();
  const res = await call(url, "GET", "/orders/done/status?wait_for=cancelled&timeout_s=1");
  const tookMs = Date.now() - started;
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ order_id: "done", status: "completed" });
  expect(tookMs).toBeGreaterThanOrEqual(950);
  expect(tookMs).toBeLessThan(4_000);
});

test("long-poll: many waiters on many orders each get their own order's answer", async () => {
  const { url } = await startService({ PROCESS_ORDER_MODULE: GATED });
  const ids = Array.from({ length: 50 }, (_, i) => `slow-m${i}`);
  const waits = ids.map(async (id) => {
    await call(url, "POST", "/orders", order(id));
    return call(url, "GET", `/orders/${id}/status?wait_for=completed&timeout_s=30`);
  });
  const answers = await Promise.all(waits);
  expect(answers.map((a) => a.body)).toEqual(ids.map((id) => ({ order_id: id, status: "completed" })));
});

test("long-poll parameters are checked", async () => {
  const { url } = await startService();
  await call(url, "POST", "/orders", order("p1"));
  const cases: [string, string][] = [
    ["wait_for=done", "wait_for"],
    ["wait_for=completed,bogus", "wait_for"],
    ["wait_for=completed&timeout_s=61", "timeout_s"],
    ["wait_for=completed&timeout_s=-1", "timeout_s"],
    ["wait_for=completed&timeout_s=1e1", "timeout_s"],
    ["timeout_s=5", "timeout_s"],
    ["other=1", "other"],
  ];
  for (const [query, field] of cases) {
    const res = await call(url, "GET", `/orders/p1/status?${query}`);
    expect({ query, status: res.status }).toEqual({ query, status: 422 });
    expect(JSON.stringify(res.body.error)).toContain(field);
  }
  const missing = await call(url, "GET", "/orders/nope/status?wait_for=completed&timeout_s=1");
  expect(missing.status).toBe(404);
});
