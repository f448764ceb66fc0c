import { expect, test } from "bun:test";
import type { Order } from "../order.ts";
import { Claims } from "./claims.ts";
import { decideOutcome, freeSlots, overdueAttempts } from "./policy.ts";

const rules = { maxAttempts: 3, retryBaseMs: 100 };
const order = (orderId: string, seq: number) => ({ orderId, seq, attempts: 1 }) as Order;

test("an attempt's outcome: completed; retried after its backoff; failed at the last allowed attempt", () => {
  expect(decideOutcome("w", { seq: 7, attempts: 1 }, { orderId: "o" }, 1000, rules)).toEqual({
    kind: "completed",
    seq: 7,
    owner: "w",
  });
  const retry = decideOutcome("w", { seq: 7, attempts: 2 }, { orderId: "o", error: "no stock" }, 1000, rules);
  expect(retry).toMatchObject({ kind: "retry", seq: 7, owner: "w", error: "no stock" });
  expect((retry as { runAt: number }).runAt).toBeGreaterThan(1000);
  expect(
    decideOutcome("w", { seq: 7, attempts: 3 }, { orderId: "o", error: "no stock" }, 1000, rules),
  ).toEqual({
    kind: "failed",
    seq: 7,
    owner: "w",
    error: "no stock",
  });
});

test("free slots: concurrency less what is held, plus what just reported; full threads left out", () => {
  const claims = new Claims();
  for (const owner of ["a", "b", "c"]) claims.open(owner);
  claims.take("a", [order("a1", 1), order("a2", 2)], 0, 0);
  claims.take("b", [order("b1", 3), order("b2", 4), order("b3", 5)], 0, 0);
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
  claims.take("a", [order("a1", 1)], 0, 0);
  claims.take("a", [order("a2", 2)], 0, 900);
  claims.take("b", [order("b1", 3)], 0, 0);
  expect([...overdueAttempts(claims, 1000, 500, new Set())]).toEqual([
    ["a", ["a1"]],
    ["b", ["b1"]],
  ]);
  expect([...overdueAttempts(claims, 1000, 500, new Set(["b"]))]).toEqual([["a", ["a1"]]]);
});
