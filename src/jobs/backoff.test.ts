import { expect, test } from "bun:test";
import { MAX_BACKOFF_MS, retryAfter, retryDelayMs } from "./backoff.ts";

test("the ceiling doubles with each attempt from the base", () => {
  const almostOne = () => 0.999_999;
  expect(retryDelayMs(1, 1000, almostOne)).toBe(999);
  expect(retryDelayMs(2, 1000, almostOne)).toBe(1999);
  expect(retryDelayMs(4, 1000, almostOne)).toBe(7999);
});

test("the delay is capped at five minutes however many attempts failed", () => {
  expect(retryDelayMs(30, 1000, () => 0.999_999)).toBeLessThan(MAX_BACKOFF_MS);
  expect(retryDelayMs(30, 1000, () => 0.999_999)).toBeGreaterThan(MAX_BACKOFF_MS - 1000);
});

test("jitter spreads retries below the ceiling", () => {
  expect(retryDelayMs(3, 1000, () => 0)).toBe(0);
  expect(retryDelayMs(3, 1000, () => 0.5)).toBe(2000);
  const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(3, 1000)));
  expect(delays.size).toBeGreaterThan(10);
  for (const delay of delays) expect(delay).toBeLessThan(4000);
});

test("after a failed attempt: again after its backoff, until the last allowed one gives up", () => {
  const rules = { maxAttempts: 3, retryBaseMs: 100 };
  const again = retryAfter(2, 1000, rules);
  expect(again?.runAt).toBe(1000 + (again?.backoffMs ?? -1));
  expect(again?.backoffMs).toBeGreaterThanOrEqual(0);
  expect(again?.backoffMs).toBeLessThan(200);
  expect(retryAfter(3, 1000, rules)).toBeUndefined();
  expect(retryAfter(4, 1000, rules)).toBeUndefined();
});
