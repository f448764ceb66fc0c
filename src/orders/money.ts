/**
 * Money crosses the API as a decimal number with at most two places and lives in the database as
 * integer cents. The round trip is exact: the cents divided by 100 give back the very double the
 * client sent, so 150.99 in is 150.99 out, and sums are integer arithmetic.
 */

/** Largest accepted amount; 1e12 * 100 stays far below 2^53, so cents are exact integers. */
export const MAX_AMOUNT = 1e12;

/** The rule, as a client reads it in a 422. */
export const MONEY_RULE = "must be a number from 0 to 1e12 with at most two decimals";

/**
 * Converts an amount to cents, or returns null when it is not a finite number from 0 to MAX_AMOUNT
 * with at most two decimals. 0.30000000000000004 (0.1 + 0.2) is rejected, not rounded.
 */
export function toCents(amount: number): number | null {
  if (!Number.isFinite(amount) || amount < 0 || amount > MAX_AMOUNT) return null;
  const cents = Math.round(amount * 100);
  return cents / 100 === amount ? cents : null;
}

/** Converts cents back to the decimal amount the client sent. */
export function fromCents(cents: number): number {
  return cents / 100;
}
