/**
 * The step recorder without a database or a thread (test/fixtures/memory-queue.ts): a step is
 * recorded only while its claim is held, the thread hears which were, and a failed write records
 * nothing and says so.
 */
import { expect, test } from "bun:test";
import { memoryQueue } from "../../test/fixtures/memory-queue.ts";
import { waitFor } from "../../test/helpers.ts";
import { Claims } from "../jobs/claims.ts";
import type { StepAnswer } from "./messages.ts";
import { StepRecorder } from "./step-recorder.ts";

function setUp() {
  const queue = memoryQueue(["a", "b"]);
  const claims = new Claims();
  claims.open("w1");
  // Both orders claimed by w1, as a pump would have.
  for (const row of queue.rows) Object.assign(row, { status: "processing", claimedBy: "w1", attempts: 1 });
  claims.take(
    "w1",
    [
      { key: "a", seq: 1, attempts: 1 },
      { key: "b", seq: 2, attempts: 1 },
    ],
    60_000,
    0,
  );
  const answers: { owner: string; answers: StepAnswer[] }[] = [];
  const observed: string[] = [];
  const recorder = new StepRecorder({
    queue: queue.store,
    claims,
    workers: { answer: (owner, given) => answers.push({ owner, answers: given }) },
    observer: { step: (name, outcome) => observed.push(`${name} ${outcome}`) },
    now: () => 1_000,
    log: () => {},
  });
  return { queue, claims, answers, recorder, observed };
}

test("the steps of one turn are recorded in one call and answered in one message", async () => {
  const { queue, claims, answers, recorder, observed } = setUp();
  recorder.add("w1", [{ orderId: "a", name: "one", status: "completed", result: { x: 1 }, ms: 5 }]);
  recorder.add("w1", [{ orderId: "b", name: "one", status: "completed", result: null, ms: 5 }]);
  await waitFor(() => answers.length > 0);
  expect(answers).toEqual([{ owner: "w1", answers: [{ orderId: "a" }, { orderId: "b" }] }]);
  expect(queue.row("a").steps).toEqual([
    { name: "one", status: "completed", attempt: 1, at: 1_000, result: { x: 1 } },
  ]);
  expect(observed).toEqual(["one completed", "one completed"]);
  // The next step's deadline counts from the record.
  expect(claims.get("w1", "a")?.activeSince).toBe(1_000);
});

test("a compensation is recorded as an entry of its own, with its event", async () => {
  const { queue, answers, recorder } = setUp();
  recorder.add("w1", [
    { orderId: "a", name: "charge", status: "compensated", ms: 5 },
    { orderId: "b", name: "charge", status: "compensation_failed", error: "refund refused", ms: 5 },
  ]);
  await waitFor(() => answers.length > 0);
  expect(answers[0]?.answers).toEqual([{ orderId: "a" }, { orderId: "b" }]);
  expect(queue.row("a").steps).toEqual([{ name: "charge", status: "compensated", attempt: 1, at: 1_000 }]);
  expect(queue.row("b").steps).toEqual([
    { name: "charge", status: "compensation_failed", attempt: 1, at: 1_000, error: "refund refused" },
  ]);
});

test("a step whose claim was lost is not recorded: the attempt is told to stop", async () => {
  const { queue, claims, answers, recorder } = setUp();
  // Rescued meanwhile and held by another replica.
  queue.row("a").claimedBy = "elsewhere";
  recorder.add("w1", [{ orderId: "a", name: "one", status: "completed", result: 1, ms: 5 }]);
  await waitFor(() => answers.length > 0);
  expect(answers[0]?.answers[0]?.error).toMatch(/claim on this order was lost/);
  expect(queue.row("a").steps).toEqual([]);
  expect(claims.get("w1", "a")?.lost).toBe(true);
  // A claim already known lost is answered at once, without a call.
  recorder.add("w1", [{ orderId: "a", name: "two", status: "completed", result: 1, ms: 5 }]);
  expect(answers).toHaveLength(2);
});

test("a failed write records nothing and fails the attempt; the claim is still held", async () => {
  const { queue, claims, answers, recorder } = setUp();
  queue.failNext("recordSteps");
  recorder.add("w1", [{ orderId: "a", name: "one", status: "completed", result: 1, ms: 5 }]);
  await waitFor(() => answers.length > 0);
  expect(answers[0]?.answers[0]?.error).toMatch(/^the step's completion could not be recorded/);
  expect(queue.row("a").steps).toEqual([]);
  expect(claims.get("w1", "a")?.lost).toBe(false);
});
