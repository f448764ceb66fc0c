import { describe, expect, test } from "bun:test";
import { data as packageData } from "currency-codes";
import { currencyDigits, formatMinor, fromMinor, MAX_MINOR, orderTotals, toMinor } from "./currency.ts";

/** Fixed so failures replay; printed in every failure message. */
const SEED = 0x22c0de;
const MAX = BigInt(MAX_MINOR);

/** mulberry32: a small deterministic PRNG returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer in [lo, hi]. */
function between(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** Random positive count of 1..length digits (length <= 15), as a string. */
function randomDigits(rand: () => number, length: number): string {
  return String(1 + Math.floor(rand() * (10 ** between(rand, 1, length) - 1)));
}

/** Random string of exactly `length` digits, leading zeros allowed. */
function exactDigits(rand: () => number, length: number): string {
  let text = "";
  while (text.length < length) text += String(between(rand, 0, 9));
  return text;
}

/** The test's own decimal writer, independent of formatMinor: ("5", 3) -> "0.005". */
function decimal(units: string, digits: number): string {
  const padded = units.padStart(digits + 1, "0");
  return digits === 0 ? padded : `${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
}

/** Minor units of a decimal written with exactly `digits` decimals, by string arithmetic only. */
function unitsOf(text: string): bigint {
  return BigInt(text.replace(".", ""));
}

function fail(what: string): never {
  throw new Error(`seed ${SEED}: ${what}`);
}

describe("currencyDigits", () => {
  test("gives ISO's minor-unit digits for active codes", () => {
    const expected = { JPY: 0, USD: 2, KWD: 3, CLF: 4, UYW: 4, EUR: 2, XOF: 0, XCD: 2 };
    for (const [code, digits] of Object.entries(expected))
      expect([code, currencyDigits(code)]).toEqual([code, digits]);
  });

  test("rejects historic, N.A. and unknown codes, and does not fold case", () => {
    for (const code of ["DEM", "FRF", "XXX", "XTS", "XAU", "XDR", "usd", "Usd", "ABC", "", "USD "]) {
      expect([code, currencyDigits(code)]).toEqual([code, undefined]);
    }
  });

  test("agrees with the package's data, which lists N.A. codes as 0 digits", () => {
    const rejected = [];
    for (const record of packageData) {
      const digits = currencyDigits(record.code);
      if (digits === undefined) rejected.push(record.code);
      else expect([record.code, digits]).toEqual([record.code, record.digits]);
    }
    const na = ["XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"];
    expect(rejected.sort()).toEqual(na);
  });
});

describe("toMinor", () => {
  test("reads exact decimals into minor units", () => {
    const cases: [number, number, number][] = [
      [150.99, 2, 15099],
      [0, 2, 0],
      [-0, 2, 0],
      [1500, 0, 1500],
      [0.005, 3, 5],
      [1.2345, 4, 12345],
      [0.0001, 4, 1],
      [1e-4, 4, 1],
      [19.9, 2, 1990],
      [9999999999999.99, 2, MAX_MINOR],
      [MAX_MINOR, 0, MAX_MINOR],
    ];
    for (const [amount, digits, minor] of cases)
      expect([amount, toMinor(amount, digits)]).toEqual([amount, minor]);
    expect(Object.is(toMinor(-0, 2), 0)).toBe(true);
  });

  test("rejects drift, extra decimals, negatives, non-finite and too large", () => {
    const cases: [number, number][] = [
      [0.1 + 0.2, 2],
      [1.5, 0],
      [0.005, 2],
      [1e-7, 4],
      [5e-324, 4],
      [-0.01, 2],
      [Number.NaN, 2],
      [Number.POSITIVE_INFINITY, 0],
      [Number.NEGATIVE_INFINITY, 0],
      [1e21, 0],
      [Number.MAX_SAFE_INTEGER, 0],
      [MAX_MINOR + 1, 0],
      [10000000000000, 2],
      [Number.MAX_VALUE, 0],
    ];
    for (const [amount, digits] of cases) expect([amount, toMinor(amount, digits)]).toEqual([amount, null]);
    expect(toMinor("1.5" as unknown as number, 2)).toBeNull();
  });

  test("rejects 10,000 random malformed amounts", () => {
    const rand = mulberry32(SEED);
    for (let i = 0; i < 10_000; i++) {
      const digits = [0, 2, 3, 4][i % 4] ?? 0;
      let amount: number;
      const kind = i % 5;
      if (kind === 0) {
        // More decimals than the currency has, last one non-zero, at most 15 significant digits.
        const places = digits + between(rand, 1, 4);
        const fraction = `${exactDigits(rand, places - 1)}${between(rand, 1, 9)}`;
        amount = JSON.parse(`${randomDigits(rand, 15 - places)}.${fraction}`);
      } else if (kind === 1) {
        amount = -JSON.parse(decimal(randomDigits(rand, 15), digits));
      } else if (kind === 2) {
        amount = JSON.parse(`${randomDigits(rand, 15)}e${between(rand, 16, 308)}`);
      } else if (kind === 3) {
        amount = JSON.parse(decimal(`1${exactDigits(rand, between(rand, 15, 20))}`, digits));
      } else {
        amount = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY][i % 3] ?? Number.NaN;
      }
      if (toMinor(amount, digits) !== null) fail(`accepted malformed ${amount} with ${digits} digits`);
    }
  });
});

describe("formatMinor and fromMinor", () => {
  test("write minor units in the currency's digits", () => {
    expect(formatMinor(15099, 2)).toBe("150.99");
    expect(formatMinor(1500, 0)).toBe("1500");
    expect(formatMinor(5, 3)).toBe("0.005");
    expect(formatMinor(12345, 4)).toBe("1.2345");
    expect(formatMinor(1990, 2)).toBe("19.90");
    expect(formatMinor(0, 4)).toBe("0.0000");
    expect(fromMinor(15099, 2)).toBe(150.99);
    expect(fromMinor(MAX_MINOR, 2)).toBe(9999999999999.99);
  });

  test("round-trip every sampled count up to MAX_MINOR exactly", () => {
    const rand = mulberry32(SEED);
    for (let i = 0; i < 20_000; i++) {
      const digits = i % 5;
      const units = i % 97 === 0 ? String(MAX_MINOR - i) : randomDigits(rand, 15);
      const minor = Number(units);
      const text = formatMinor(minor, digits);
      if (text !== decimal(units, digits)) fail(`formatMinor(${minor}, ${digits}) = ${text}`);
      if (toMinor(fromMinor(minor, digits), digits) !== minor) fail(`round trip of ${minor}, ${digits}`);
    }
  });

  test("why MAX_MINOR is not 2^53 - 1: that many cents is no exact JSON number", () => {
    expect(String(Number(formatMinor(Number.MAX_SAFE_INTEGER, 2)))).not.toBe("90071992547409.91");
    expect(() => fromMinor(Number.MAX_SAFE_INTEGER, 2)).toThrow(RangeError);
  });
});

describe("orderTotals", () => {
  const none = { shippingMinor: 0, taxMinor: 0, discountMinor: 0 };

  test("sums lines and extras", () => {
    const lines = [
      { quantity: 3, unitPriceMinor: 15099 },
      { quantity: 1, unitPriceMinor: 1 },
    ];
    const extras = { shippingMinor: 500, taxMinor: 120, discountMinor: 1000 };
    expect(orderTotals(lines, extras)).toEqual({ subtotalMinor: 45298, totalMinor: 44918 });
    expect(orderTotals([], none)).toEqual({ subtotalMinor: 0, totalMinor: 0 });
  });

  test("reports negative totals and overflow at the exact boundary", () => {
    expect(orderTotals([{ quantity: 1, unitPriceMinor: 5 }], { ...none, discountMinor: 6 })).toEqual({
      error: "negative",
    });
    const atMax = [{ quantity: 1, unitPriceMinor: MAX_MINOR }];
    expect(orderTotals(atMax, none)).toEqual({ subtotalMinor: MAX_MINOR, totalMinor: MAX_MINOR });
    expect(orderTotals(atMax, { ...none, taxMinor: 1 })).toEqual({ error: "overflow" });
    // Before discount counts: an overflowing gross is refused even if the discount brings it back.
    expect(orderTotals(atMax, { ...none, taxMinor: 1, discountMinor: 2 })).toEqual({ error: "overflow" });
    const huge = [{ quantity: 100_000, unitPriceMinor: Number.MAX_SAFE_INTEGER }];
    expect(orderTotals(huge, none)).toEqual({ error: "overflow" });
    expect(() => orderTotals([{ quantity: -1, unitPriceMinor: 1 }], none)).toThrow(RangeError);
  });

  test("10,000 random carts match BigInt sums of the decimal strings", () => {
    const rand = mulberry32(SEED);
    const seen = { ok: 0, overflow: 0, negative: 0 };
    const amount = (text: string, digits: number): number =>
      toMinor(JSON.parse(text), digits) ?? fail(`rejected valid ${text} with ${digits} digits`);
    for (let cart = 0; cart < 10_000; cart++) {
      const code = ["JPY", "USD", "KWD", "CLF"][cart % 4] ?? "";
      const digits = currencyDigits(code) ?? fail(`no digits for ${code}`);
      // Per-cart price scale, so that totals land on both sides of MAX_MINOR.
      const scale = between(rand, 1, 11);
      const lines = [];
      let subtotal = 0n;
      // 1 to 500 lines, most carts small: mean about 125 keeps 10,000 carts well under a second.
      for (let n = between(rand, 1, between(rand, 1, 500)); n > 0; n--) {
        const units = randomDigits(rand, scale);
        const quantity = between(rand, 1, 100_000);
        lines.push({ quantity, unitPriceMinor: amount(decimal(units, digits), digits) });
        subtotal += BigInt(quantity) * BigInt(units);
      }
      const tax = decimal(randomDigits(rand, 12), digits);
      let shipping = decimal(randomDigits(rand, 8), digits);
      // Every fifth cart lands the total before discount on MAX_MINOR - 1, MAX_MINOR or MAX_MINOR + 1.
      const nudged = MAX - subtotal - unitsOf(tax) + BigInt(between(rand, -1, 1));
      if (cart % 5 === 0 && nudged >= 0n && nudged <= MAX) shipping = decimal(String(nudged), digits);
      const gross = subtotal + unitsOf(shipping) + unitsOf(tax);
      let discount = decimal(randomDigits(rand, between(rand, 1, 15)), digits);
      // Every fifth cart, offset by one, sets the discount to the total before discount, ±1.
      const near = gross + BigInt(between(rand, -1, 1));
      if (cart % 5 === 1 && near >= 0n && near <= MAX) discount = decimal(String(near), digits);
      const extras = {
        shippingMinor: amount(shipping, digits),
        taxMinor: amount(tax, digits),
        discountMinor: amount(discount, digits),
      };
      let expected: object;
      if (gross > MAX) expected = { error: "overflow" };
      else if (gross < unitsOf(discount)) expected = { error: "negative" };
      else expected = { subtotalMinor: Number(subtotal), totalMinor: Number(gross - unitsOf(discount)) };
      const actual = orderTotals(lines, extras);
      if (!Bun.deepEquals(actual, expected)) {
        fail(`cart ${cart} in ${code}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
      }
      seen["error" in actual ? actual.error : "ok"]++;
    }
    // Each outcome must be exercised, or the generator has drifted away from the boundary.
    expect(Math.min(seen.ok, seen.overflow, seen.negative)).toBeGreaterThan(500);
  });
});
