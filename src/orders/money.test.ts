import { describe, expect, test } from "bun:test";
import { fromCents, MAX_AMOUNT, toCents } from "./money.ts";

describe("money", () => {
  test("round-trips every two-decimal amount exactly", () => {
    for (const amount of [0, 0.01, 0.1, 0.29, 150.99, 19.99, 1234567.89, MAX_AMOUNT, 999999999999.99]) {
      const cents = toCents(amount);
      expect(cents).not.toBeNull();
      expect(Number.isInteger(cents)).toBe(true);
      expect(fromCents(cents as number)).toBe(amount);
    }
  });

  test("stores 150.99 as 15099 cents", () => {
    expect(toCents(150.99)).toBe(15099);
  });

  test("rejects float drift, more than two decimals, negatives, non-finite and too large", () => {
    for (const amount of [
      0.1 + 0.2,
      1.001,
      0.005,
      -0.01,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      MAX_AMOUNT + 0.01,
    ]) {
      expect(toCents(amount)).toBeNull();
    }
  });

  test("sums of cents have no drift", () => {
    expect(fromCents((toCents(0.1) ?? 0) + (toCents(0.2) ?? 0))).toBe(0.3);
  });
});
