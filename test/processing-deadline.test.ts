/**
 * Every attempt has a deadline (PROCESSING_TIMEOUT_MS): an attempt past it is a failed attempt and
 * frees its slot; a processOrder that ignores its abort, or blocks its thread, gets the thread
 * replaced. Real child processes, real worker threads, a real processOrder module.
 */
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { call, cleanup, order, spawnService, tempDir, waitFor } from "./helpers.ts";

afterEach(cleanup);

const HANGS = join(import.meta.dir, "fixtures", "process-order-hangs.ts");

/** A child service on a fresh database. */
const start = (env: Record<string, string>) =>
  spawnService({ DATABASE_PATH: join(tempDir(), "orders.db"), ...env });

/** Waits until the order is in `status`; returns it. */
const settled = (url: URL, orderId: string, status: string, timeoutMs = 15_000) =>
  waitFor(
    async () => {
      const body = (await call(url, "GET", `/orders/${orderId}`)).body;
      return body.status === status && body;
    },
    { timeoutMs, what: `${orderId} to be ${status}` },
  );

test("an attempt past PROCESSING_TIMEOUT_MS fails, is retried, and ends failed; its slot is freed", async () => {
  const { url } = await start({
    PROCESSING_TIME_MS: "60000", // the simulated call honours its abort signal
    PROCESSING_TIMEOUT_MS: "200",
    MAX_ATTEMPTS: "2",
    RETRY_BASE_MS: "1",
    WORKERS: "1",
    WORKER_CONCURRENCY: "1",
  });
  const started = Date.now();
  await call(url, "POST", "/orders", order("slow-1"));
  const failed = await settled(url, "slow-1", "failed");
  expect(failed).toMatchObject({ attempts: 2, last_error: "processing timed out after 200 ms" });
  // Two attempts of 200 ms, not two of 60 s: the one slot was free again each time.
  expect(Date.now() - started).toBeLessThan(10_000);
});

test("a processOrder that ignores its abort: the attempt fails at the deadline and the thread is replaced", async () => {
  const service = await start({
    PROCESS_ORDER_MODULE: HANGS,
    PROCESSING_TIMEOUT_MS: "200",
    MAX_ATTEMPTS: "1",
    WORKERS: "1",
    WORKER_CONCURRENCY: "1",
  });
  await call(service.url, "POST", "/orders", order("ignore-1"));
  expect(await settled(service.url, "ignore-1", "failed")).toMatchObject({
    attempts: 1,
    last_error: "processing timed out after 200 ms",
  });
  await waitFor(() => service.output().includes("processOrder ignored its abort past the deadline"), {
    what: "the stuck thread to be replaced",
  });
  await call(service.url, "POST", "/orders", order("after-1"));
  expect(await settled(service.url, "after-1", "completed")).toMatchObject({ attempts: 1 });
});

test("a processOrder that blocks its thread: the attempt fails and the thread is replaced", async () => {
  const service = await start({
    PROCESS_ORDER_MODULE: HANGS,
    PROCESSING_TIMEOUT_MS: "200",
    MAX_ATTEMPTS: "1",
    WORKERS: "1",
    WORKER_CONCURRENCY: "2",
  });
  await call(service.url, "POST", "/orders", order("block-1"));
  const failed = await settled(service.url, "block-1", "failed", 20_000);
  expect(failed.last_error).toContain("the worker thread did not respond and was replaced");
  expect(service.output()).toContain("worker thread unresponsive past the processing deadline");
  await call(service.url, "POST", "/orders", order("after-2"));
  expect(await settled(service.url, "after-2", "completed")).toMatchObject({ attempts: 1 });
});
