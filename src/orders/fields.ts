/**
 * The field schemas the orders' models are made of: text a person could have typed, amounts, an
 * order's line as sent and as read back, an amount as read back (model.ts puts them together).
 */
import { FormatRegistry } from "@sinclair/typebox";
import { t } from "elysia";

// An amount as the schema sees it: a number, at least 0. Its digits and bound depend on the body's
// currency, so pricing.ts checks them, reported with the schema's problems (withCrossCheck).
export const Amount = (description: string) =>
  t.Number({ minimum: 0, description, error: "must be a number of at least 0" });

// Text a person could have typed: no lone UTF-16 surrogate (JSON.parse turns "\ud800" into one,
// and storing it as UTF-8 would turn it into U+FFFD, so the identical replay would not match) and
// no control characters.
// C0, DEL and C1 control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The format name of such text; validation only: the published document drops it (openapi-document.ts). */
export const PRINTABLE = "printable";
FormatRegistry.Set(PRINTABLE, (value) => !CONTROL.test(value) && value.isWellFormed());
const TEXT_RULE = "a non-empty string of at most 128 characters, no control characters";
/** Text a person could have typed, under TEXT_RULE; `what` opens its description. */
export const Text = (what: string) =>
  t.String({
    minLength: 1,
    maxLength: 128,
    format: PRINTABLE,
    description: `${what}: ${TEXT_RULE}`,
    error: `must be ${TEXT_RULE}`,
  });

/** Most units of one line. */
export const MAX_QUANTITY = 100_000;

/** Most lines of one order. */
export const MAX_LINES = 500;

export const LineItem = t.Object(
  {
    sku: t.String({
      minLength: 1,
      maxLength: 64,
      format: PRINTABLE,
      description: "The item's stock-keeping unit: 1 to 64 characters, no control characters",
      error: "must be a string of 1 to 64 characters, no control characters",
    }),
    quantity: t.Integer({
      minimum: 1,
      maximum: MAX_QUANTITY,
      description: "Whole units, 1 to 100,000",
      error: "must be a whole number from 1 to 100,000",
    }),
    unit_price: Amount(
      "Price of one unit, with at most the currency's minor-unit digits (USD 2, JPY 0, KWD 3)",
    ),
    name: t.Optional(Text("The item's name")),
  },
  {
    additionalProperties: false,
    error: "must be an object with sku, quantity, unit_price and optionally name",
  },
);

/** An amount in the order's currency, both ways: a decimal string in its digits and minor units. */
export const MoneyView = t.Object({
  amount: t.String({
    description: "Decimal with exactly the currency's minor-unit digits",
    examples: ["150.99"],
  }),
  minor: t.Integer({ description: "Integer minor units (cents for USD, yen for JPY)", examples: [15099] }),
});

export const LineView = t.Object({
  sku: t.String({ description: "The SKU; on a seed-shaped order, the item id" }),
  name: t.Optional(t.String()),
  quantity: t.Integer({ description: "1 for each item id of a seed-shaped order" }),
  unit_price: t.Nullable(MoneyView, { description: "null on a seed-shaped order (no prices)" }),
  line_total: t.Nullable(MoneyView, { description: "quantity × unit_price; null without prices" }),
});
