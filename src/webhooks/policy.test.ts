import { expect, test } from "bun:test";
import { decideDelivery } from "./policy.ts";

const rules = { maxAttempts: 3, retryBaseMs: 100 };

test("an attempt's outcome: delivered on a 2xx; sent again after its backoff; dead after the last", () => {
  const ok = { ok: true, status: 204, durationMs: 3 };
  expect(decideDelivery("s", { seq: 7, attempts: 0 }, ok, 1000, rules)).toEqual({
    kind: "delivered",
    seq: 7,
    owner: "s",
    at: 1000,
    status: 204,
  });
  const refused = { ok: false, error: "connection refused", durationMs: 1 };
  const retry = decideDelivery("s", { seq: 7, attempts: 1 }, refused, 1000, rules);
  expect(retry).toMatchObject({ kind: "retry", seq: 7, error: "connection refused", status: null });
  // The second attempt failed: the next waits below the ceiling of 2 × 100 ms.
  const next = (retry as { nextAttemptAt: number }).nextAttemptAt;
  expect(next).toBeGreaterThanOrEqual(1000);
  expect(next).toBeLessThan(1200);
  const dead = decideDelivery(
    "s",
    { seq: 7, attempts: 2 },
    { ok: false, status: 500, durationMs: 1 },
    1000,
    rules,
  );
  expect(dead).toEqual({ kind: "dead", seq: 7, owner: "s", at: 1000, error: "HTTP 500", status: 500 });
});
