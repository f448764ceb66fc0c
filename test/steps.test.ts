/**
 * Processing in durable steps (issue 22): a module that exports `steps` has each step's completion
 * and result recorded with the order before the next step runs, and an attempt resumes at the
 * first step not completed. Real service, real worker threads, real database (PostgreSQL when
 * TEST_STORAGE=postgres); the crash tests are in steps-crash.test.ts.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { call, cleanup, order, startService, tempDir, waitFor } from "./helpers.ts";

afterEach(cleanup);

const JOURNALING = join(import.meta.dir, "fixtures/steps-journal.ts");
const EXAMPLE = join(import.meta.dir, "../examples/three-step.ts");

/** The journal's lines, split into [step, orderId, rest...]. */
const journalOf = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((line) => line.split(" "));

/** A fresh journal file for the steps fixture (worker threads read STEPS_JOURNAL from the process). */
function freshJournal(): string {
  const path = join(tempDir(), "journal");
  process.env.STEPS_JOURNAL = path;
  return path;
}

async function settled(url: URL, orderId: string, status = "completed") {
  await waitFor(async () => (await call(url, "GET", `/orders/${orderId}/status`)).body.status === status, {
    what: `${orderId} ${status}`,
  });
  return (await call(url, "GET", `/orders/${orderId}`)).body;
}

const historyOf = async (url: URL, orderId: string) =>
  (await call(url, "GET", `/orders/${orderId}/events`)).body.events.map(
    (e: { type: string; details: Record<string, unknown> | null }) => [e.type, e.details?.step ?? null],
  );

test("the three-step example: each step's result is stored with the order and seen by the later steps", async () => {
  const { url } = await startService({ PROCESS_ORDER_MODULE: EXAMPLE });
  const body = {
    user_id: "u-1",
    order_id: "example-1",
    currency: "EUR",
    items: [
      { sku: "MUG", quantity: 2, unit_price: 12.5 },
      { sku: "TEA", quantity: 3, unit_price: 4 },
    ],
  };
  expect((await call(url, "POST", "/orders", body)).status).toBe(201);
  const done = await settled(url, "example-1");
  expect(done.steps.map((s: { name: string }) => s.name)).toEqual([
    "reserve_stock",
    "charge",
    "book_shipment",
  ]);
  const [reserve, charge, ship] = done.steps;
  expect(reserve).toMatchObject({ status: "completed", attempt: 1, result: { units: 5 } });
  expect(reserve.result.reservation).toMatch(/^res_\d+$/);
  expect(charge.result).toMatchObject({ amount_minor: 3700, currency: "EUR" });
  // The last step read the first one's result from ctx.results.
  expect(ship.result.reservation).toBe(reserve.result.reservation);
  for (const step of done.steps)
    expect(Date.parse(step.completed_at)).toBeLessThanOrEqual(Date.parse(done.completed_at));
  expect(await historyOf(url, "example-1")).toEqual([
    ["created", null],
    ["claimed", null],
    ["step_completed", "reserve_stock"],
    ["step_completed", "charge"],
    ["step_completed", "book_shipment"],
    ["completed", null],
  ]);
});

test("a failed step is retried where it failed: the steps before it do not run again", async () => {
  const journal = freshJournal();
  const { url } = await startService({
    PROCESS_ORDER_MODULE: JOURNALING,
    RETRY_BASE_MS: "10",
  });
  await call(url, "POST", "/orders", order("flaky-1"));
  const done = await settled(url, "flaky-1");
  expect(done.attempts).toBe(2);
  expect(done.steps.map((s: { name: string; attempt: number }) => [s.name, s.attempt])).toEqual([
    ["one", 1],
    ["two", 2],
    ["three", 2],
  ]);
  const lines = journalOf(journal);
  expect(lines.map(([step, , attempt, key]) => [step, attempt, key])).toEqual([
    ["one", "attempt=1", "key=flaky-1:one"],
    ["two", "attempt=1", "key=flaky-1:two"],
    ["two", "attempt=2", "key=flaky-1:two"],
    ["three", "attempt=2", "key=flaky-1:three"],
  ]);
  // The retry's steps had the results recorded by the first attempt.
  expect(lines[2]?.[4]).toBe('results={"one":{"first":7}}');
  expect(lines[3]?.[4]).toBe('results={"one":{"first":7},"two":{"second":true}}');
  expect(await historyOf(url, "flaky-1")).toEqual([
    ["created", null],
    ["claimed", null],
    ["step_completed", "one"],
    ["attempt_failed", "two"],
    ["claimed", null],
    ["step_completed", "two"],
    ["step_completed", "three"],
    ["completed", null],
  ]);
});

test("a step whose result is over 16 KB fails its attempt, naming the step", async () => {
  freshJournal();
  const { url } = await startService({
    PROCESS_ORDER_MODULE: JOURNALING,
    MAX_ATTEMPTS: "1",
  });
  await call(url, "POST", "/orders", order("big-1"));
  const failed = await settled(url, "big-1", "failed");
  expect(failed.last_error).toMatch(/^the step's result is \d+ bytes as JSON, more than 16384$/);
  expect(failed.steps).toBeUndefined();
  expect((await historyOf(url, "big-1")).at(-1)).toEqual(["failed", "one"]);
});

test("a module with one processOrder keeps today's history: no step events, no steps listed", async () => {
  const { url } = await startService({ PROCESSING_TIME_MS: "0" });
  await call(url, "POST", "/orders", order("plain-1"));
  const done = await settled(url, "plain-1");
  expect(done.steps).toBeUndefined();
  expect(await historyOf(url, "plain-1")).toEqual([
    ["created", null],
    ["claimed", null],
    ["completed", null],
  ]);
});
