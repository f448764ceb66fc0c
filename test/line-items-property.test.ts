/**
 * Money, property-tested over real HTTP: 10,000 seeded random carts in JPY, USD, KWD and CLF (0 to
 * 4 minor-unit digits). A well-formed cart is posted with the total computed here in BigInt from
 * its decimal strings: the service accepts it only if its own sum is exactly that (else
 * TOTAL_MISMATCH), or refuses it naming `items` when the sum is beyond 10^15 - 1 minor units, or
 * `discount_amount` when the discount is larger than the rest. A cart with one malformation (an
 * amount, quantity, currency, SKU or line count) must be a 422 naming that field.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mulberry32 } from "./fuzz-cases.ts";
import { call, cleanup, startService, type TestService } from "./helpers.ts";

const SEED = 0x5eed22;
const CARTS = 10_000;
const MAX_MINOR = 10n ** 15n - 1n;
const DIGITS = { JPY: 0, USD: 2, KWD: 3, CLF: 4 } as const;
type Currency = keyof typeof DIGITS;

let service: TestService;
beforeAll(async () => {
  service = await startService({ PROCESSING_TIME_MS: "0", MAX_PENDING_ORDERS: "1000000" });
});
afterAll(cleanup);

const rng = mulberry32;
type Rng = ReturnType<typeof rng>;

/** A decimal string with at most `digits` decimals and up to `whole` integer digits. */
function decimal(r: Rng, digits: number, whole: number): string {
  const int = String(r.int(10 ** r.int(whole + 1)));
  const places = r.int(digits + 1);
  return places === 0 ? int : `${int}.${Array.from({ length: places }, () => r.int(10)).join("")}`;
}
const minorOf = (text: string, digits: number) => {
  const [int = "0", frac = ""] = text.split(".");
  return BigInt(int) * 10n ** BigInt(digits) + BigInt(frac.padEnd(digits, "0") || "0");
};
const formatOf = (minor: bigint, digits: number) => {
  const text = minor.toString().padStart(digits + 1, "0");
  return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
};

type Case = { body: Record<string, unknown>; status: number; field?: string; code?: string };

/** One random cart and what the service must answer. */
function cartCase(r: Rng, index: number): Case {
  const currency = r.pick(Object.keys(DIGITS)) as Currency;
  const digits = DIGITS[currency];
  const lines = Array.from({ length: 1 + r.int(20) }, (_, i) => ({
    sku: `SKU-${i}`,
    quantity: 1 + r.int(r.pick([10, 1000, 100_000])),
    price: decimal(r, digits, r.pick([2, 5, 9])),
  }));
  const charges = {
    shipping: decimal(r, digits, 3),
    tax: decimal(r, digits, 3),
    discount: decimal(r, digits, 4),
  };
  const items: Record<string, unknown>[] = lines.map((l) => ({
    sku: l.sku,
    quantity: l.quantity,
    unit_price: JSON.parse(l.price),
  }));
  const body: Record<string, unknown> = {
    user_id: "prop",
    order_id: `prop-${index}`,
    currency,
    items,
    shipping_amount: JSON.parse(charges.shipping),
    tax_amount: JSON.parse(charges.tax),
    discount_amount: JSON.parse(charges.discount),
  };
  const line = r.int(items.length);
  const item = items[line] as Record<string, unknown>;
  switch (r.int(12)) {
    case 0:
      item.unit_price = JSON.parse(`${decimal(r, 0, 3)}.${"0".repeat(digits)}${1 + r.int(9)}`);
      return { body, status: 422, field: `items.${line}.unit_price` };
    case 1:
      body.shipping_amount = -JSON.parse(decimal(r, digits, 3)) - 1;
      return { body, status: 422, field: "shipping_amount" };
    case 2:
      item.quantity = r.pick([0, 100_001, 2.5, -1]);
      return { body, status: 422, field: `items.${line}.quantity` };
    case 3:
      body.currency = r.pick(["XAU", "XTS", "XXX", "DEM", "usd", "EURO", "", "ZZZ"]);
      return { body, status: 422, field: "currency" };
    case 4:
      item.sku = r.pick(["", "S".repeat(65), "a\u0001b", "tab\there"]);
      return { body, status: 422, field: `items.${line}.sku` };
    case 5:
      body.items =
        r.int(2) === 0 ? [] : Array.from({ length: 501 }, () => ({ sku: "A", quantity: 1, unit_price: 0 }));
      return { body, status: 422, field: "items" };
    default: {
      const subtotal = lines.reduce((sum, l) => sum + BigInt(l.quantity) * minorOf(l.price, digits), 0n);
      const gross = subtotal + minorOf(charges.shipping, digits) + minorOf(charges.tax, digits);
      const overflow =
        lines.some((l) => BigInt(l.quantity) * minorOf(l.price, digits) > MAX_MINOR) || gross > MAX_MINOR;
      if (overflow) return { body, status: 422, field: "items" };
      const total = gross - minorOf(charges.discount, digits);
      if (total < 0n) return { body, status: 422, field: "discount_amount" };
      body.total_amount = JSON.parse(formatOf(total, digits));
      return { body, status: 201 };
    }
  }
}

test(`${CARTS.toLocaleString("en")} random carts: exact totals, and each malformation a 422 naming its field`, async () => {
  const r = rng(SEED);
  const cases = Array.from({ length: CARTS }, (_, i) => cartCase(r, i));
  const seen = { accepted: 0, refused: 0 };
  const failures: unknown[] = [];
  for (let start = 0; start < cases.length; start += 32) {
    const batch = cases.slice(start, start + 32);
    const answers = await Promise.all(batch.map((c) => call(service.url, "POST", "/orders", c.body)));
    answers.forEach((res, i) => {
      const c = batch[i] as Case;
      const fields = (res.body.error?.details ?? []).map?.((d: { field: string }) => d.field) ?? [];
      const ok = res.status === c.status && (c.field === undefined || fields.includes(c.field));
      if (!ok && failures.length < 5)
        failures.push({ seed: SEED, case: start + i, expected: c, got: res.body });
      if (res.status === 201) seen.accepted++;
      else seen.refused++;
    });
  }
  expect(failures).toEqual([]);
  // Both kinds were well represented.
  expect(seen.accepted).toBeGreaterThan(2_000);
  expect(seen.refused).toBeGreaterThan(3_000);
}, 120_000);
