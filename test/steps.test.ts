/**
 * Processing in durable steps (issue 22): a module that exports `steps` has each step's completion
 * and result recorded with the order before the next step runs, and an attempt resumes at the
 * first step not completed. Real service, real worker threads, real database (PostgreSQL when
 * TEST_STORAGE=postgres); the crash tests are in steps-crash.test.ts.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
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

/**
 * A fresh journal file and gates folder for the steps fixture (worker threads read STEPS_JOURNAL
 * and STEPS_GATES from the process).
 */
function freshJournal(): string {
  const dir = tempDir();
  process.env.STEPS_GATES = dir;
  const path = join(dir, "journal");
  process.env.STEPS_JOURNAL = path;
  return path;
}

/** Opens a gate of the fixture: a file in STEPS_GATES. */
const openGate = (name: string) => writeFileSync(join(process.env.STEPS_GATES as string, name), "");

/** The journal's steps of `orderId`, with the attempt that ran each. */
const runsOf = (journal: string, orderId: string) =>
  journalOf(journal)
    .filter(([, id]) => id === orderId)
    .map(([step, , attempt]) => `${step} ${attempt}`);

async function settled(url: URL, orderId: string, status = "completed") {
  await waitFor(async () => (await call(url, "GET", `/orders/${orderId}/status`)).body.status === status, {
    what: `${orderId} ${status}`,
  });
  return (await call(url, "GET", `/orders/${orderId}`)).body;
}

/** The value of one Prometheus series of the service, 0 when absent. */
async function series(url: URL, line: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics?format=prometheus", url))).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
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
  expect(await series(url, 'order_steps_total{step="charge",outcome="completed"}')).toBe(1);
  expect(await series(url, 'order_step_duration_seconds_count{step="charge",outcome="completed"}')).toBe(1);
});

test("the example, its shipment refused: the payment is refunded and the stock released, and the order fails", async () => {
  process.env.EXAMPLE_FAIL_STEP = "book_shipment";
  try {
    const { url } = await startService({
      PROCESS_ORDER_MODULE: EXAMPLE,
      MAX_ATTEMPTS: "2",
      RETRY_BASE_MS: "10",
    });
    await call(url, "POST", "/orders", order("example-2"));
    const failed = await settled(url, "example-2", "failed");
    expect(failed.last_error).toBe("book_shipment failed (EXAMPLE_FAIL_STEP)");
    expect(failed.steps.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
      ["reserve_stock", "compensated"],
      ["charge", "compensated"],
      ["book_shipment", "failed"],
    ]);
    expect((await historyOf(url, "example-2")).slice(-3)).toEqual([
      ["step_compensated", "charge"],
      ["step_compensated", "reserve_stock"],
      ["failed", null],
    ]);
  } finally {
    delete process.env.EXAMPLE_FAIL_STEP;
  }
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
  // The last attempt allowed: the step it failed in is recorded with the order.
  expect(failed.steps).toEqual([
    {
      name: "one",
      status: "failed",
      attempt: 1,
      completed_at: null,
      result: null,
      error: failed.last_error,
    },
  ]);
  expect((await historyOf(url, "big-1")).slice(-2)).toEqual([
    ["step_failed", "one"],
    ["failed", "one"],
  ]);
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

/** Starts the journaling module with two attempts, posts `orderId` and waits until it fails. */
async function failedWithTwoAttempts(orderId: string) {
  const journal = freshJournal();
  const { url } = await startService({
    PROCESS_ORDER_MODULE: JOURNALING,
    MAX_ATTEMPTS: "2",
    RETRY_BASE_MS: "10",
  });
  await call(url, "POST", "/orders", order(orderId));
  const failed = await settled(url, orderId, "failed");
  // Both forward attempts ran steps one and two once, then three each time.
  expect(runsOf(journal, orderId).slice(0, 4)).toEqual([
    "one attempt=1",
    "two attempt=1",
    "three attempt=1",
    "three attempt=2",
  ]);
  return { journal, url, failed };
}

test("a step that always fails: the completed steps are compensated once each, last first; a retry once it is fixed completes", async () => {
  const { journal, url, failed } = await failedWithTwoAttempts("broken-1");
  expect(runsOf(journal, "broken-1").slice(4)).toEqual(["undo-two attempt=3", "undo-one attempt=3"]);
  expect(await series(url, 'order_steps_total{step="three",outcome="failed"}')).toBe(2);
  expect(await series(url, 'order_steps_total{step="two",outcome="compensated"}')).toBe(1);
  // Each compensation had every completed step's result, and a key of its own.
  const undoTwo = journalOf(journal).find(([step]) => step === "undo-two") as string[];
  expect(undoTwo[3]).toBe("key=broken-1:two:compensate");
  expect(undoTwo[4]).toBe('results={"one":{"first":8},"two":{"second":true}}');
  expect(failed.last_error).toBe("three always fails");
  expect(failed.steps.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
    ["one", "compensated"],
    ["two", "compensated"],
    ["three", "failed"],
  ]);
  expect(failed.steps[1].result).toEqual({ second: true });
  expect(Date.parse(failed.steps[1].compensated_at)).toBeGreaterThanOrEqual(
    Date.parse(failed.steps[1].completed_at),
  );
  const events = (await call(url, "GET", "/orders/broken-1/events")).body.events;
  expect(events.slice(-4).map((e: { type: string; details: unknown }) => [e.type, e.details])).toEqual([
    ["claimed", { claimed_by: expect.any(String) }],
    ["step_compensated", { step: "two" }],
    ["step_compensated", { step: "one" }],
    ["failed", { error: "three always fails", compensation: "compensated" }],
  ]);
  const undo = events.find(
    (e: { type: string; attempt: number }) => e.type === "attempt_failed" && e.attempt === 2,
  );
  expect(undo.details).toEqual({ error: "three always fails", backoff_ms: 1000, step: "three" });

  // Fixed: an operator's retry runs every step again from the first (they were undone).
  openGate("broken-1");
  expect((await call(url, "POST", "/orders/broken-1/retry")).status).toBe(200);
  const done = await settled(url, "broken-1");
  expect(runsOf(journal, "broken-1").slice(6)).toEqual(["one attempt=1", "two attempt=1", "three attempt=1"]);
  // Undone steps run again as new calls: their keys carry the generation; three was never undone.
  const keys = journalOf(journal)
    .filter(([, id]) => id === "broken-1")
    .slice(6)
    .map(([, , , key]) => key);
  expect(keys).toEqual(["key=broken-1:one:1", "key=broken-1:two:1", "key=broken-1:three"]);
  expect(done.steps.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
    ["one", "completed"],
    ["two", "completed"],
    ["three", "completed"],
  ]);
});

test("a compensation that keeps failing is given up and the rest undone; an operator's retry tries only it again", async () => {
  const { journal, url, failed } = await failedWithTwoAttempts("stubborn-1");
  expect(runsOf(journal, "stubborn-1").slice(4)).toEqual([
    "undo-two attempt=3",
    "undo-two attempt=4",
    "undo-one attempt=4",
  ]);
  expect(failed.steps).toEqual([
    expect.objectContaining({ name: "one", status: "compensated", attempt: 4 }),
    expect.objectContaining({
      name: "two",
      status: "compensation_failed",
      attempt: 4,
      error: "refund refused",
    }),
    expect.objectContaining({ name: "three", status: "failed", attempt: 2 }),
  ]);
  const last = (await call(url, "GET", "/orders/stubborn-1/events")).body.events.at(-1);
  expect(last.details).toEqual({ error: "three always fails", compensation: "compensation_failed" });

  openGate("stubborn-1.undo");
  expect((await call(url, "POST", "/orders/stubborn-1/retry")).status).toBe(200);
  await waitFor(
    async () =>
      (await historyOf(url, "stubborn-1")).at(-1)?.[0] === "failed" &&
      runsOf(journal, "stubborn-1").length === 8,
    {
      what: "the retried compensation",
    },
  );
  expect(runsOf(journal, "stubborn-1").at(-1)).toBe("undo-two attempt=3");
  const again = (await call(url, "GET", "/orders/stubborn-1")).body;
  expect(again.status).toBe("failed");
  expect(again.steps.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
    ["one", "compensated"],
    ["two", "compensated"],
    ["three", "failed"],
  ]);
  const end = (await call(url, "GET", "/orders/stubborn-1/events")).body.events.at(-1);
  expect(end.details).toEqual({ error: "three always fails", compensation: "compensated" });
});

test("cancelling a pending order with completed steps: 202, they are undone first, then it is cancelled", async () => {
  const journal = freshJournal();
  // Step two always fails, and its retries wait long: the order waits, pending, with step one done.
  const { url } = await startService({ PROCESS_ORDER_MODULE: JOURNALING, RETRY_BASE_MS: "60000" });
  await call(url, "POST", "/orders", order("stalled-1"));
  await waitFor(async () =>
    (await historyOf(url, "stalled-1")).some(([type]: string[]) => type === "attempt_failed"),
  );
  // (A retry may have started meanwhile: then the cancel is a 409 until it is pending again.)
  const accepted = await waitFor(async () => {
    const answer = await call(url, "POST", "/orders/stalled-1/cancel");
    return answer.status === 202 && answer.body;
  });
  expect(accepted.status).toBe("pending");
  expect(Date.parse(accepted.cancel_requested_at)).toBeGreaterThan(0);
  const cancelled = await settled(url, "stalled-1", "cancelled");
  expect(cancelled.steps.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
    ["one", "compensated"],
  ]);
  // Step one ran once and was undone once; step three never ran.
  const runs = runsOf(journal, "stalled-1").map((run) => run.split(" ")[0]);
  expect(runs.filter((step) => step === "one")).toHaveLength(1);
  expect(runs.filter((step) => step === "three")).toHaveLength(0);
  expect(runs.at(-1)).toBe("undo-one");
  expect(runs.filter((step) => step === "undo-one")).toHaveLength(1);
  expect((await historyOf(url, "stalled-1")).slice(-4)).toEqual([
    ["cancel_requested", null],
    ["claimed", null],
    ["step_compensated", "one"],
    ["cancel_completed", null],
  ]);
  // Cancelling it again is the no-op it always was.
  const again = await call(url, "POST", "/orders/stalled-1/cancel");
  expect([again.status, again.body.status]).toEqual([200, "cancelled"]);
});

test("a compensate that ignores its deadline fails at it: retried, then given up, and the rest undone", async () => {
  const journal = freshJournal();
  const { url } = await startService({
    PROCESS_ORDER_MODULE: JOURNALING,
    MAX_ATTEMPTS: "2",
    RETRY_BASE_MS: "10",
    PROCESSING_TIMEOUT_MS: "300",
  });
  await call(url, "POST", "/orders", order("hangs-1"));
  const failed = await settled(url, "hangs-1", "failed");
  expect(runsOf(journal, "hangs-1").slice(4)).toEqual([
    "undo-two attempt=3",
    "undo-two attempt=4",
    "undo-one attempt=4",
  ]);
  expect(failed.steps).toEqual([
    expect.objectContaining({ name: "one", status: "compensated" }),
    expect.objectContaining({
      name: "two",
      status: "compensation_failed",
      error: "processing timed out after 300 ms",
    }),
    expect.objectContaining({ name: "three", status: "failed", error: "three always fails" }),
  ]);
  // The compensation's failed attempt is not counted as the step failing.
  expect(await series(url, 'order_steps_total{step="two",outcome="failed"}')).toBe(0);
  expect(await series(url, 'order_steps_total{step="two",outcome="compensation_failed"}')).toBe(1);
});

test("a step that blocks its thread on the last attempt: the watchdog fails it, and the completed steps are still undone", async () => {
  const journal = freshJournal();
  const { url } = await startService({
    PROCESS_ORDER_MODULE: JOURNALING,
    MAX_ATTEMPTS: "1",
    PROCESSING_TIMEOUT_MS: "200",
    WORKERS: "1",
  });
  await call(url, "POST", "/orders", order("blocks-1"));
  // The watchdog gives a silent thread 5 s past the deadline before it fails the attempt.
  await waitFor(async () => (await call(url, "GET", "/orders/blocks-1/status")).body.status === "failed", {
    timeoutMs: 30_000,
    what: "blocks-1 failed",
  });
  expect(runsOf(journal, "blocks-1")).toEqual([
    "one attempt=1",
    "two attempt=1",
    "three attempt=1",
    "undo-two attempt=2",
    "undo-one attempt=2",
  ]);
  const failed = (await call(url, "GET", "/orders/blocks-1")).body;
  expect(failed.steps.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
    ["one", "compensated"],
    ["two", "compensated"],
  ]);
  expect((await historyOf(url, "blocks-1")).at(-1)).toEqual(["failed", null]);
}, 60_000);
