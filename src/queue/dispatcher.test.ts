/**
 * The dispatcher's policy, without a database or a thread: an in-memory queue port and stand-in
 * worker threads (test/fixtures/memory-queue.ts). It never claims more than the free slots, never
 * settles a result whose claim it lost, and loses no result when storage fails once.
 */
import { afterEach, expect, test } from "bun:test";
import { fakeWorkers, memoryQueue } from "../../test/fixtures/memory-queue.ts";
import { waitFor } from "../../test/helpers.ts";
import * as lifecycle from "../lifecycle.ts";
import { Dispatcher } from "./dispatcher.ts";
import { ignoreQueue } from "./observer.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** A started dispatcher over `queue` and `workers`, WORKER_CONCURRENCY 3, leases of a minute. */
function start(queue: ReturnType<typeof memoryQueue>, workers: ReturnType<typeof fakeWorkers>) {
  const lost: string[] = [];
  const dispatcher = new Dispatcher({
    queue: queue.store,
    workers: workers.workers,
    now: Date.now,
    concurrency: 3,
    maxAttempts: 2,
    retryBaseMs: 1,
    leaseMs: 60_000,
    processingTimeoutMs: 60_000,
    log: () => {},
    observer: { ...ignoreQueue, claimLost: () => lost.push("lost") },
  });
  dispatcher.start();
  stops.push(() => dispatcher.stop(0));
  return { dispatcher, lost };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `o${i}`);
/** Whom a pump claimed for: one owner per order it asked for. */
const owners = (call?: { claims: { owner: string }[] }) => call?.claims.map((c) => c.owner);

test("claims only the free slots: three a thread, one more for each result", async () => {
  const queue = memoryQueue(ids(10));
  const workers = fakeWorkers();
  const { dispatcher } = start(queue, workers);
  workers.ready("w0");
  await waitFor(() => workers.sentIds().length === 3);
  // Every claim asked for no more than the slots free then.
  expect(queue.calls.settleAndClaim.map(owners)).toEqual([["w0", "w0", "w0"]]);
  workers.report("w0", [{ orderId: "o0" }]);
  await waitFor(() => workers.sentIds().length === 4);
  expect(dispatcher.inFlight()).toBe(3);
  expect(owners(queue.calls.settleAndClaim.at(-1))).toEqual(["w0"]);
  expect(queue.row("o0").status).toBe("completed");
  expect(queue.rows.filter((r) => r.status === "processing")).toHaveLength(3);
});

test("a result whose claim was taken up by another holder is not settled, and its slot comes back", async () => {
  const queue = memoryQueue(ids(1));
  const workers = fakeWorkers();
  const { dispatcher, lost } = start(queue, workers);
  workers.ready("w0");
  await waitFor(() => workers.sentIds().length === 1);
  // Another replica rescued and claimed it; the next renewal finds it no longer ours.
  Object.assign(queue.row("o0"), { claimedBy: "other/w0" });
  await (dispatcher as unknown as { leases: { tick(): Promise<void> } }).leases.tick();
  expect(lost).toEqual(["lost"]);
  expect(workers.cancelled).toEqual([
    { owner: "w0", orderIds: ["o0"], reason: expect.stringContaining("was taken up by another holder") },
  ]);
  const before = queue.calls.settleAndClaim.length;
  workers.report("w0", [{ orderId: "o0", error: "aborted" }]);
  await waitFor(() => dispatcher.inFlight() === 0);
  await waitFor(() => queue.calls.settleAndClaim.length > before);
  expect(queue.calls.settleAndClaim.slice(before).flatMap((call) => call.settlements)).toEqual([]);
  expect(queue.row("o0")).toMatchObject({ status: "processing", claimedBy: "other/w0" });
});

test("a result is not lost when storage fails once: the next pump records it", async () => {
  const queue = memoryQueue(ids(1));
  const workers = fakeWorkers();
  start(queue, workers);
  workers.ready("w0");
  await waitFor(() => workers.sentIds().length === 1);
  queue.failNext("settleAndClaim");
  workers.report("w0", [{ orderId: "o0" }]);
  await waitFor(() => queue.row("o0").status === "completed");
  const withResult = queue.calls.settleAndClaim.filter((call) => call.settlements.length > 0);
  // Sent twice: once into the failure, once again.
  const completion = {
    seq: 1,
    owner: "w0",
    transition: lifecycle.completed(),
    completedAt: expect.any(Number),
  };
  expect(withResult.map((call) => call.settlements)).toEqual([[completion], [completion]]);
});

test("a failed attempt is retried after its backoff, then failed for good at MAX_ATTEMPTS", async () => {
  const queue = memoryQueue(ids(1));
  const workers = fakeWorkers();
  start(queue, workers);
  workers.ready("w0");
  await waitFor(() => workers.sentIds().length === 1);
  workers.report("w0", [{ orderId: "o0", error: "no stock" }]);
  await waitFor(() => workers.sentIds().length === 2);
  workers.report("w0", [{ orderId: "o0", error: "no stock" }]);
  await waitFor(() => queue.row("o0").status === "failed");
  expect(queue.row("o0")).toMatchObject({ attempts: 2, lastError: "no stock" });
});
