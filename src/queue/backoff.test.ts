import { expect, test } from "bun:test";
import { MAX_BACKOFF_MS, retryDelayMs } from "./backoff.ts";

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
