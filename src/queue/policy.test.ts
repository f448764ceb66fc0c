import { expect, test } from "bun:test";
import { Claims } from "../jobs/claims.ts";
import * as lifecycle from "../lifecycle.ts";
import type { Order } from "../records/order.ts";
import {
  attemptPlan,
  claimRequests,
  decideOutcome,
  freeSlots,
  outcomeOf,
  overdueAttempts,
  shareClaimed,
  UNDO_AFTER_MS,
} from "./policy.ts";

const rules = { maxAttempts: 3, retryBaseMs: 100 };
const order = (orderId: string, seq: number) => ({ orderId, seq, attempts: 1 }) as Order;
const job = (key: string, seq: number) => ({ key, seq, attempts: 1 });

test("an attempt's outcome: completed; retried after its backoff; failed at the last allowed attempt", () => {
  const completed = decideOutcome("w", { seq: 7, attempts: 1 }, { orderId: "o" }, 1000, rules);
  expect(completed).toEqual({ seq: 7, owner: "w", transition: lifecycle.completed(), completedAt: 1000 });
  expect(outcomeOf(completed)).toBe("completed");

  const retry = decideOutcome("w", { seq: 7, attempts: 2 }, { orderId: "o", error: "no stock" }, 1000, rules);
  expect(retry).toMatchObject({ seq: 7, owner: "w", lastError: "no stock" });
  expect(retry.runAt).toBeGreaterThan(1000);
  // The event says how long it waits: the same backoff as the order's runAt.
  expect(retry.transition).toEqual(lifecycle.attemptFailed("no stock", (retry.runAt ?? 0) - 1000));
  expect(retry.transition).toMatchObject({ from: "processing", to: "pending" });
  expect(outcomeOf(retry)).toBe("retry");

  const failed = decideOutcome(
    "w",
    { seq: 7, attempts: 3 },
    { orderId: "o", error: "no stock" },
    1000,
    rules,
  );
  expect(failed).toEqual({
    seq: 7,
    owner: "w",
    transition: lifecycle.failed("no stock"),
    lastError: "no stock",
  });
  expect(failed.transition.details).toEqual({ error: "no stock" });
  expect(outcomeOf(failed)).toBe("failed");
});

test("a module's steps: MAX_ATTEMPTS attempts forward, then as many to undo the completed steps", () => {
  expect([1, 2, 3, 4, 5, 6].map((attempt) => attemptPlan(attempt, 3))).toEqual([
    { compensating: false, lastForward: false, lastCompensation: false },
    { compensating: false, lastForward: false, lastCompensation: false },
    { compensating: false, lastForward: true, lastCompensation: false },
    { compensating: true, lastForward: true, lastCompensation: false },
    { compensating: true, lastForward: true, lastCompensation: false },
    { compensating: true, lastForward: true, lastCompensation: true },
  ]);
  const decide = (attempts: number, result: Omit<Parameters<typeof decideOutcome>[2], "orderId">) =>
    decideOutcome("w", { seq: 7, attempts }, { orderId: "o", ...result }, 1000, rules);
  // The last forward attempt left steps to undo: compensation starts once the worker's abort grace
  // is past, not after a backoff.
  expect(decide(3, { error: "declined", step: "charge", undo: true })).toEqual({
    seq: 7,
    owner: "w",
    transition: lifecycle.attemptFailed("declined", UNDO_AFTER_MS, "charge"),
    runAt: 1000 + UNDO_AFTER_MS,
    lastError: "declined",
  });
  // A compensation that failed is retried within its own budget; last_error is left as it was.
  const again = decide(4, { error: "refund refused", step: "charge", compensating: true });
  expect(again.transition).toMatchObject({
    type: "attempt_failed",
    details: { step: "charge", compensating: true },
  });
  expect(again.runAt).toBeGreaterThanOrEqual(1000);
  expect(again.lastError).toBeUndefined();
  expect(decide(6, { error: "refund refused", compensating: true }).transition).toEqual(
    lifecycle.failed("refund refused"),
  );
  // The compensation ended: the order fails, saying how, at whatever attempt.
  expect(decide(5, { error: "declined", compensation: "compensated" })).toEqual({
    seq: 7,
    owner: "w",
    transition: lifecycle.failed("declined", undefined, "compensated"),
    lastError: "declined",
  });
});

test("a failure no thread described (the watchdog's) is placed by the attempt, for a module's steps", () => {
  const watchdog = (attempts: number, durable: boolean) =>
    decideOutcome("w", { seq: 7, attempts }, { orderId: "o", error: "blocked" }, 1000, { ...rules, durable })
      .transition;
  // Before the last forward attempt: retried as any failure.
  expect(watchdog(2, true)).toMatchObject({ type: "attempt_failed", details: { error: "blocked" } });
  expect(watchdog(2, true).details).not.toHaveProperty("compensating");
  // The last forward attempt: its completed steps are undone next.
  expect(watchdog(3, true)).toEqual(lifecycle.attemptFailed("blocked", UNDO_AFTER_MS));
  // A compensation attempt: retried within the compensation budget, then given up.
  expect(watchdog(4, true).details).toMatchObject({ compensating: true });
  expect(watchdog(6, true)).toEqual(lifecycle.failed("blocked"));
  // With one processOrder, as it always was.
  expect(watchdog(3, false)).toEqual(lifecycle.failed("blocked"));
});

test("the claim rule: one request per order wanted, threads in turn, each claim naming its holder", () => {
  const requests = claimRequests([
    { owner: "a", limit: 2 },
    { owner: "b", limit: 1 },
  ]);
  expect(requests.map((r) => r.owner)).toEqual(["a", "a", "b"]);
  expect(requests.map((r) => r.transition)).toEqual([
    lifecycle.claimed("a"),
    lifecycle.claimed("a"),
    lifecycle.claimed("b"),
  ]);
  expect(requests[0]?.transition).toMatchObject({ type: "claimed", from: "pending", to: "processing" });
  expect(requests[0]?.transition.details).toEqual({ claimed_by: "a" });
});

test("claimed orders are shared in turn: each thread at most its limit; after a short one, none", () => {
  const slots = [
    { owner: "a", limit: 2 },
    { owner: "b", limit: 2 },
    { owner: "c", limit: 1 },
  ];
  const got = (n: number) => Array.from({ length: n }, (_, i) => order(`o${i}`, i + 1));
  const ids = (shares: Order[][]) => shares.map((share) => share.map((o) => o.orderId));
  expect(ids(shareClaimed(slots, got(5)))).toEqual([["o0", "o1"], ["o2", "o3"], ["o4"]]);
  expect(ids(shareClaimed(slots, got(3)))).toEqual([["o0", "o1"], ["o2"], []]);
  expect(ids(shareClaimed(slots, got(0)))).toEqual([[], [], []]);
});

test("free slots: concurrency less what is held, plus what just reported; full threads left out", () => {
  const claims = new Claims();
  for (const owner of ["a", "b", "c"]) claims.open(owner);
  claims.take("a", [job("a1", 1), job("a2", 2)], 0, 0);
  claims.take("b", [job("b1", 3), job("b2", 4), job("b3", 5)], 0, 0);
  const reported = [
    { owner: "b", result: { orderId: "b1" } },
    { owner: "b", result: { orderId: "not-held" } },
  ];
  expect(freeSlots(["a", "b", "c"], claims, reported, 3)).toEqual([
    { owner: "a", limit: 1 },
    { owner: "b", limit: 1 },
    { owner: "c", limit: 3 },
  ]);
  expect(freeSlots(["b"], claims, [], 3)).toEqual([]);
});

test("overdue attempts by thread, past the limit, skipping threads already being replaced", () => {
  const claims = new Claims();
  for (const owner of ["a", "b"]) claims.open(owner);
  claims.take("a", [job("a1", 1)], 0, 0);
  claims.take("a", [job("a2", 2)], 0, 900);
  claims.take("b", [job("b1", 3)], 0, 0);
  expect([...overdueAttempts(claims, 1000, 500, new Set())]).toEqual([
    ["a", ["a1"]],
    ["b", ["b1"]],
  ]);
  expect([...overdueAttempts(claims, 1000, 500, new Set(["b"]))]).toEqual([["a", ["a1"]]]);
});
