import { expect, test } from "bun:test";
import { RateLimiter } from "./rate-limit.ts";

test("allows the limit per client per second, then refuses until the next second", () => {
  const limiter = new RateLimiter(3);
  const t = 1_000_000;
  const verdicts = [0, 1, 2, 3, 4].map((i) => limiter.take("a", t + i * 100));
  expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false, false]);
  expect(verdicts.map((v) => v.remaining)).toEqual([2, 1, 0, 0, 0]);
  expect(verdicts.every((v) => v.limit === 3 && v.resetS === 1)).toBe(true);
  // Another client has its own budget; the next second starts afresh.
  expect(limiter.take("b", t + 500).allowed).toBe(true);
  expect(limiter.take("a", t + 1000)).toEqual({ allowed: true, limit: 3, remaining: 2, resetS: 1 });
});
