/**
 * Money in any active ISO 4217 currency: which codes an order may use, how many minor-unit digits
 * each has, and exact conversion between the JSON numbers clients send and integer minor units
 * (cents, yen, fils, ...), plus order totals in integer arithmetic. Pure: no I/O after load.
 *
 * The list is ISO's own List One ("current currency & funds"), as shipped in the npm package
 * `currency-codes` (pinned exact; upgrading it picks up ISO amendments; its publish date is
 * `CURRENCY_LIST_DATE`). We read the package's verbatim `iso-4217-list-one.xml` with Bun's XML
 * loader instead of its JS `data`, because that data turns ISO's "N.A." minor unit into 0
 * (`parseInt("N.A.") || 0`), so gold (XAU) and the test code (XTS) look like the yen. Its `code()`
 * lookup also upper-cases, which we do not want. `Intl.supportedValuesOf("currency")` is no
 * substitute: it lists historic and X-codes (DEM, FRF, XXX) and gives UYW 2 digits where ISO says 4.
 */
import isoListOne from "currency-codes/iso-4217-list-one.xml";

/**
 * Largest amount in minor units, 10^15 - 1, rather than 2^53 - 1: a minor-unit count with at most 15
 * digits is a decimal with at most 15 significant digits, and every such decimal survives the trip
 * through a double and back to its shortest form. Above that it may not: 9007199254740991 cents is
 * 90071992547409.91, which as a JSON number prints as 90071992547409.9. Still 9.99 trillion dollars.
 */
export const MAX_MINOR = 999_999_999_999_999;

/** Why an order's totals could not be computed. */
export type TotalsError = { error: "overflow" | "negative" };

/** An order's sums in minor units. */
export type OrderTotals = { subtotalMinor: number; totalMinor: number };

/** Accepted code -> minor-unit digits, built once from the ISO list. */
const DIGITS = readDigits(isoListOne);

/** Publication date of the ISO list in use, e.g. "2024-06-25". */
export const CURRENCY_LIST_DATE = String(element(isoListOne.ISO_4217)["@Pblshd"]);

/**
 * Returns the minor-unit digits of an accepted currency code, else undefined. Accepted means on
 * ISO's active list with a numeric minor unit: XAU, XDR, XTS, XXX and the other "N.A." codes are
 * not prices. Codes must be exactly as ISO writes them: "usd" is rejected, not folded, so what we
 * store and echo back is always the canonical code.
 */
export function currencyDigits(code: string): number | undefined {
  return DIGITS.get(code);
}

/**
 * The digits to show a stored amount in: its currency's, or 2 for a code no longer on the list (a
 * package upgrade that dropped it), so an old order stays readable. Orders are only ever taken in
 * accepted codes (currencyDigits).
 */
export function storedDigits(code: string): number {
  return DIGITS.get(code) ?? 2;
}

/**
 * Converts a JSON number to minor units, or returns null unless it is finite, not negative, has at
 * most `digits` decimals and is at most MAX_MINOR minor units. Decimals are read from the number's
 * shortest round-trip form (what JSON shows: "150.99", "1e-7", "1e+21"), never by multiplying and
 * rounding, so 0.1 + 0.2 (0.30000000000000004) is rejected for USD. -0 is accepted as 0: JSON
 * writes it "0" and it is the same amount.
 */
export function toMinor(amount: number, digits: number): number | null {
  checkDigits(digits);
  if (typeof amount !== "number" || !(amount >= 0 && amount <= MAX_MINOR)) return null;
  // A non-negative finite number prints as digits, an optional fraction and an optional exponent.
  const text = String(amount);
  const e = text.indexOf("e");
  const body = e < 0 ? text : text.slice(0, e);
  const dot = body.indexOf(".");
  const fraction = dot < 0 ? "" : body.slice(dot + 1);
  const mantissa = dot < 0 ? body : body.slice(0, dot) + fraction;
  // Power of ten that turns the mantissa's digits into minor units.
  const shift = (e < 0 ? 0 : Number(text.slice(e + 1))) - fraction.length + digits;
  let units: string;
  if (shift >= 0) {
    units = mantissa + "0".repeat(shift);
  } else {
    // Too many decimals unless every digit shifted out is zero.
    const keep = Math.max(mantissa.length + shift, 0);
    if (/[1-9]/.test(mantissa.slice(keep))) return null;
    units = mantissa.slice(0, keep) || "0";
  }
  // Parsing an integer string rounds only above 2^53, and a count above MAX_MINOR still parses
  // to one above it (rounding is monotonic, 10^15 is a double): at or below, it is exact.
  const minor = Number(units);
  return minor <= MAX_MINOR ? minor : null;
}

/**
 * Writes minor units as a decimal with exactly `digits` decimals: (15099, 2) -> "150.99". A bigint
 * for sums that may pass 2^53 (the dashboard's value per minute).
 */
export function formatMinor(minor: number | bigint, digits: number): string {
  checkDigits(digits);
  if (typeof minor === "number" && !Number.isSafeInteger(minor)) {
    throw new RangeError(`minor units must be a safe integer: ${minor}`);
  }
  const sign = minor < 0 ? "-" : "";
  // Safe integers and bigints print as plain digits, never in exponent form.
  const units = String(minor < 0 ? -minor : minor).padStart(digits + 1, "0");
  if (digits === 0) return sign + units;
  return `${sign}${units.slice(0, -digits)}.${units.slice(-digits)}`;
}

/** Converts minor units back to the JSON number a client sent; exact up to MAX_MINOR. */
export function fromMinor(minor: number, digits: number): number {
  if (Math.abs(minor) > MAX_MINOR) throw new RangeError(`minor units beyond MAX_MINOR: ${minor}`);
  return Number(formatMinor(minor, digits));
}

/**
 * Sums an order in minor units: Σ quantity × unit price, then + shipping + tax - discount.
 * Inputs are non-negative safe integers (quantities, and amounts from toMinor). Any line, the
 * subtotal or the total before discount above MAX_MINOR is "overflow", even if the discount would
 * bring it back: a cart that large is refused, not approximated. A discount larger than everything
 * else is "negative".
 */
export function orderTotals(
  lines: readonly { quantity: number; unitPriceMinor: number }[],
  extras: { shippingMinor: number; taxMinor: number; discountMinor: number },
): OrderTotals | TotalsError {
  // Plain doubles are exact here: sums are checked after each step, so every operation starts from
  // exact values and yields either an exact result below 2^53 or, when its true value exceeds
  // MAX_MINOR, a rounded one that still does (rounding is monotonic and 10^15 is a double).
  let subtotal = 0;
  for (const { quantity, unitPriceMinor } of lines) {
    subtotal += count(quantity) * count(unitPriceMinor);
    if (subtotal > MAX_MINOR) return { error: "overflow" };
  }
  const gross = subtotal + count(extras.shippingMinor) + count(extras.taxMinor);
  if (gross > MAX_MINOR) return { error: "overflow" };
  const total = gross - count(extras.discountMinor);
  if (total < 0) return { error: "negative" };
  return { subtotalMinor: subtotal, totalMinor: total };
}

/** Throws unless n is a non-negative safe integer: a caller bug, not a client error. */
function count(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`expected a non-negative safe integer: ${n}`);
  return n;
}

/** Throws unless digits is a minor-unit digit count ISO could give. */
function checkDigits(digits: number): void {
  if (!Number.isInteger(digits) || digits < 0 || digits > 9) throw new RangeError(`bad digits: ${digits}`);
}

/** Narrows an XML value to an element; the list's shape changing must fail at load, not later. */
function element(value: Bun.XML.Value | Bun.XML.Value[] | undefined): Bun.XML.Element {
  if (typeof value !== "object" || Array.isArray(value)) throw new Error("unexpected ISO 4217 XML shape");
  return value;
}

/** Maps each code with a numeric minor unit to its digits. Entries repeat per country. */
function readDigits(doc: Bun.XML.Document): Map<string, number> {
  const entries = element(element(doc.ISO_4217).CcyTbl).CcyNtry;
  const digits = new Map<string, number>();
  for (const entry of Array.isArray(entries) ? entries : []) {
    // Territories without a currency have no Ccy; "N.A." fails the digit pattern.
    const { Ccy: code, CcyMnrUnts: units } = element(entry);
    if (typeof code === "string" && typeof units === "string" && /^\d$/.test(units)) {
      digits.set(code, Number(units));
    }
  }
  if (digits.size < 100) throw new Error(`ISO 4217 list has only ${digits.size} currencies`);
  return digits;
}
