/**
 * Pricing an order from its body: its currency, its lines and charges in integer minor units, and
 * its total, with the rules a schema cannot state because they look across fields (an amount's
 * digits depend on the currency; `items` and `item_ids` exclude each other). The same function
 * judges a body that passed its schema (the service) and one that did not (the error envelope,
 * through `withCrossCheck`), so a client hears of every problem at once. It reads the body as sent:
 * a field of the wrong type is the schema's to report, and is skipped here.
 */

import { currencyDigits, formatMinor, MAX_MINOR, orderTotals, toMinor } from "../kit/currency.ts";
import type { FieldProblem } from "../kit/errors.ts";
import type { Cart, NewOrder, OrderLine } from "../records/order.ts";
import { MAX_QUANTITY } from "./fields.ts";

/** What pricing adds to a new order. */
export type Priced = Pick<NewOrder, "itemIds" | "currency" | "totalMinor" | "cart">;

/** The given total is not the order's sum: both in minor units, for TOTAL_MISMATCH. */
export type Mismatch = { currency: string; digits: number; given: number; computed: number };

/** Problems (a 422 naming each field), a total that disagrees with the lines, or the priced order. */
export type Pricing =
  | { problems: FieldProblem[] }
  | { problems: []; mismatch: Mismatch }
  | { problems: []; priced: Priced };

/** A seed-shaped order's total keeps the seed's bound. */
export const SEED_MAX_AMOUNT = 1e12;
const CHARGES = ["shipping_amount", "tax_amount", "discount_amount"] as const;
const CURRENCY_RULE = "must be an active ISO 4217 code with a minor unit, such as USD, EUR or JPY";

type Body = Record<string, unknown>;
const isObject = (value: unknown): value is Body =>
  typeof value === "object" && value !== null && !Array.isArray(value);
/** The rule an amount broke, as its 422 says it. */
export const amountRule = (digits: number, currency: string, max = "999999999999999 minor units") =>
  `must be a number from 0 to ${max} with at most ${digits} decimals (${currency})`;

/** Prices `body` in its currency, or `defaultCurrency` when it names none. */
export function priceOrder(body: unknown, defaultCurrency: string): Pricing {
  if (!isObject(body)) return { problems: [] };
  const problems: FieldProblem[] = [];
  const currency = body.currency ?? defaultCurrency;
  const digits = typeof currency === "string" ? currencyDigits(currency) : undefined;
  if (typeof currency === "string" && digits === undefined)
    problems.push({ field: "currency", message: CURRENCY_RULE });
  // Converts a field's amount, reporting it when it has too many digits or is too large.
  const amount = (value: unknown, field: string): number | undefined => {
    if (typeof value !== "number" || value < 0 || digits === undefined) return undefined;
    const minor = toMinor(value, digits);
    if (minor === null) problems.push({ field, message: amountRule(digits, currency as string) });
    return minor ?? undefined;
  };

  if (body.items !== undefined && body.item_ids !== undefined) {
    problems.push({ field: "items", message: "cannot be given with item_ids: one or the other" });
  }
  if (body.items === undefined) return seedShaped(body, problems, digits, currency);

  const lines: OrderLine[] = [];
  const items = Array.isArray(body.items) ? body.items : [];
  items.forEach((item, i) => {
    if (!isObject(item)) return;
    const unitPrice = amount(item.unit_price, `items.${i}.unit_price`);
    const { sku, quantity } = item;
    // A quantity the schema refuses (0, 1.5, 1e20) is its to report: the line is left unpriced.
    const counted =
      Number.isInteger(quantity) && (quantity as number) >= 1 && (quantity as number) <= MAX_QUANTITY;
    if (typeof sku !== "string" || !counted || unitPrice === undefined) return;
    const line: OrderLine = { sku, quantity: quantity as number, unitPrice };
    if (typeof item.name === "string") line.name = item.name;
    lines.push(line);
  });
  const [shipping, tax, discount] = CHARGES.map((field) =>
    body[field] === undefined ? 0 : amount(body[field], field),
  );
  const total = body.total_amount === undefined ? undefined : amount(body.total_amount, "total_amount");
  if (problems.length > 0 || lines.length !== items.length) return { problems };
  if (shipping === undefined || tax === undefined || discount === undefined || digits === undefined) {
    return { problems };
  }

  const sums = orderTotals(
    lines.map((line) => ({ quantity: line.quantity, unitPriceMinor: line.unitPrice })),
    { shippingMinor: shipping, taxMinor: tax, discountMinor: discount },
  );
  if ("error" in sums) {
    const problem =
      sums.error === "overflow"
        ? { field: "items", message: `the order's total must be at most ${formatMinor(MAX_MINOR, digits)}` }
        : { field: "discount_amount", message: "must not exceed the lines, shipping and tax together" };
    return { problems: [problem] };
  }
  const code = currency as string;
  if (total !== undefined && total !== sums.totalMinor) {
    return { problems: [], mismatch: { currency: code, digits, given: total, computed: sums.totalMinor } };
  }
  const cart: Cart = { lines, shipping, tax, discount };
  return {
    problems: [],
    priced: { itemIds: lines.map((line) => line.sku), currency: code, totalMinor: sums.totalMinor, cart },
  };
}

/** The seed's bound in a currency: 1e12, or less where 1e12 is more minor units than MAX_MINOR. */
const seedMax = (digits: number) => (digits <= 2 ? "1e12" : formatMinor(MAX_MINOR, digits));

/** The seed's shape: item ids and a total, nothing priced. */
function seedShaped(
  body: Body,
  problems: FieldProblem[],
  digits: number | undefined,
  currency: unknown,
): Pricing {
  if (body.item_ids === undefined) problems.push({ field: "item_ids", message: "is required (or items)" });
  for (const field of CHARGES) {
    if (body[field] !== undefined) problems.push({ field, message: "is allowed only with items" });
  }
  let total: number | undefined;
  const given = body.total_amount;
  if (given === undefined) {
    problems.push({ field: "total_amount", message: "is required with item_ids" });
  } else if (typeof given === "number" && given >= 0 && digits !== undefined) {
    const minor = given <= SEED_MAX_AMOUNT ? toMinor(given, digits) : null;
    if (minor === null)
      problems.push({
        field: "total_amount",
        message: amountRule(digits, currency as string, seedMax(digits)),
      });
    total = minor ?? undefined;
  }
  if (problems.length > 0 || total === undefined || !Array.isArray(body.item_ids)) return { problems };
  return {
    problems: [],
    priced: {
      itemIds: body.item_ids as string[],
      currency: currency as string,
      totalMinor: total,
      cart: null,
    },
  };
}
