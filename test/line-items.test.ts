/**
 * Orders with line items over real HTTP, on a real database (SQLite; PostgreSQL with
 * TEST_STORAGE=postgres): currencies and their digits, exact totals, TOTAL_MISMATCH, every
 * violation a 422 naming its field, idempotent replays, what a worker and Prometheus see.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { call, cleanup, ON_POSTGRES, startService, type TestService, tempDir, waitFor } from "./helpers.ts";

let service: TestService;
let journal: string;
beforeAll(async () => {
  journal = join(tempDir(), "orders.jsonl");
  // The worker threads read the module's setting from the environment they inherit.
  process.env.ORDER_JOURNAL = journal;
  service = await startService({
    PROCESS_ORDER_MODULE: join(import.meta.dir, "fixtures/process-order-record.ts"),
  });
});
afterAll(cleanup);

const post = (body: unknown) => call(service.url, "POST", "/orders", body);
const cart = (orderId: string, overrides: Record<string, unknown> = {}) => ({
  user_id: "shopper",
  order_id: orderId,
  currency: "EUR",
  items: [
    { sku: "TSHIRT-M", quantity: 2, unit_price: 19.99, name: "T-shirt, medium" },
    { sku: "MUG", quantity: 1, unit_price: 8.5 },
  ],
  shipping_amount: 4.9,
  tax_amount: 1,
  discount_amount: 0.5,
  ...overrides,
});
const fields = (res: { body: any }) => (res.body.error?.details ?? []).map((d: any) => d.field).sort();

describe("an order with items", () => {
  test("computes its totals exactly and reads back its lines, currency and totals", async () => {
    const res = await post(cart("li-1"));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ order_id: "li-1", status: "pending" });
    const view = (await call(service.url, "GET", "/orders/li-1")).body;
    const money = (amount: string, minor: number) => ({ amount, minor });
    expect(view).toMatchObject({
      order_id: "li-1",
      item_ids: ["TSHIRT-M", "MUG"],
      // 2 × 19.99 + 8.50 + 4.90 + 1.00 − 0.50
      total_amount: 53.88,
      currency: "EUR",
      items: [
        {
          sku: "TSHIRT-M",
          name: "T-shirt, medium",
          quantity: 2,
          unit_price: money("19.99", 1999),
          line_total: money("39.98", 3998),
        },
        { sku: "MUG", quantity: 1, unit_price: money("8.50", 850), line_total: money("8.50", 850) },
      ],
      totals: {
        subtotal: money("48.48", 4848),
        shipping: money("4.90", 490),
        tax: money("1.00", 100),
        discount: money("0.50", 50),
        total: money("53.88", 5388),
      },
    });
  });

  test("each currency with its own digits: JPY 0, KWD 3, CLF 4", async () => {
    const cases = [
      ["JPY", 1500, "1500", 1500],
      ["KWD", 1.234, "1.234", 1234],
      ["CLF", 0.0001, "0.0001", 1],
    ] as const;
    for (const [currency, price, amount, minor] of cases) {
      const id = `li-${currency}`;
      const body = {
        user_id: "u",
        order_id: id,
        currency,
        items: [{ sku: "A", quantity: 3, unit_price: price }],
      };
      expect((await post(body)).status).toBe(201);
      const view = (await call(service.url, "GET", `/orders/${id}`)).body;
      expect(view.items[0].unit_price).toEqual({ amount, minor });
      expect(view.totals.total.minor).toBe(3 * minor);
    }
  });

  test("a given total must be the exact sum: else 422 TOTAL_MISMATCH with the computed total", async () => {
    expect((await post(cart("li-total-ok", { total_amount: 53.88 }))).status).toBe(201);
    const res = await post(cart("li-total-bad", { total_amount: 53.87 }));
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({
      code: "TOTAL_MISMATCH",
      details: {
        field: "total_amount",
        currency: "EUR",
        given: "53.87",
        computed: "53.88",
        computed_minor: 5388,
      },
    });
    expect((await call(service.url, "GET", "/orders/li-total-bad")).status).toBe(404);
  });

  test("amounts with more digits than the currency has, and codes that are not active currencies, are 422s", async () => {
    const jpy = await post(
      cart("li-bad-1", { currency: "JPY", items: [{ sku: "A", quantity: 1, unit_price: 1.5 }] }),
    );
    expect(jpy.status).toBe(422);
    // shipping 4.9 and tax 1 are fine; the discount 0.5 and the unit price 1.5 have decimals the yen has not.
    expect(fields(jpy)).toEqual(["discount_amount", "items.0.unit_price", "shipping_amount"]);
    for (const currency of ["XAU", "XTS", "XXX", "DEM", "usd", "ABC"]) {
      const res = await post(cart(`li-code-${currency}`, { currency }));
      expect(res.status).toBe(422);
      expect(fields(res)).toEqual(["currency"]);
    }
  });

  test("limits: lines, quantities, SKUs, totals; each violation names its field", async () => {
    const line = { sku: "A", quantity: 1, unit_price: 1 };
    const cases: [Record<string, unknown>, string][] = [
      [{ items: [] }, "items"],
      [{ items: Array.from({ length: 501 }, () => line) }, "items"],
      [{ items: [line, { ...line, quantity: 0 }] }, "items.1.quantity"],
      [{ items: [{ ...line, quantity: 100_001 }] }, "items.0.quantity"],
      [{ items: [{ ...line, quantity: 1.5 }] }, "items.0.quantity"],
      [{ items: [{ ...line, sku: "" }] }, "items.0.sku"],
      [{ items: [{ ...line, sku: "S".repeat(65) }] }, "items.0.sku"],
      [{ items: [{ ...line, sku: "a\u0007b" }] }, "items.0.sku"],
      [{ items: [{ ...line, unit_price: -1 }] }, "items.0.unit_price"],
      [{ items: [{ ...line, unit_price: "1.00" }] }, "items.0.unit_price"],
      [{ items: [{ ...line, colour: "red" }] }, "items.0.colour"],
      [{ items: [{ ...line, quantity: 100_000, unit_price: 1e11 }] }, "items"],
      [{ discount_amount: 1000 }, "discount_amount"],
      [{ item_ids: ["x"] }, "items"],
    ];
    for (const [change, field] of cases) {
      const res = await post(cart("li-limit", change));
      expect({ change: Object.keys(change), status: res.status, code: res.body.error?.code }).toEqual({
        change: Object.keys(change),
        status: 422,
        code: "VALIDATION_FAILED",
      });
      expect(fields(res)).toContain(field);
    }
    // The longest order accepted: 500 lines of the largest quantity.
    const longest = Array.from({ length: 500 }, (_, i) => ({
      sku: `S${i}`,
      quantity: 100_000,
      unit_price: 0.01,
    }));
    expect((await post(cart("li-longest", { items: longest, discount_amount: 0 }))).status).toBe(201);
  });

  test("a body with several problems hears of all of them, those the currency decides included", async () => {
    const res = await post(
      cart("li-many", { user_id: "", currency: "JPY", shipping_amount: 0, tax_amount: 0 }),
    );
    expect(res.status).toBe(422);
    expect(fields(res)).toEqual(["discount_amount", "items.0.unit_price", "items.1.unit_price", "user_id"]);
  });

  test("charges belong to items: with item_ids they are a 422", async () => {
    const res = await post({
      user_id: "u",
      order_id: "li-seed-ship",
      item_ids: ["a"],
      total_amount: 1,
      tax_amount: 1,
    });
    expect(res.status).toBe(422);
    expect(fields(res)).toEqual(["tax_amount"]);
  });

  test("an identical replay is the same order; another line order or price is a 409", async () => {
    expect((await post(cart("li-replay"))).status).toBe(201);
    expect((await post(cart("li-replay"))).status).toBe(200);
    // An omitted total equals the computed one.
    expect((await post(cart("li-replay", { total_amount: 53.88 }))).status).toBe(200);
    const reversed = cart("li-replay");
    reversed.items = [...reversed.items].reverse();
    expect((await post(reversed)).status).toBe(409);
    expect((await post(cart("li-replay", { shipping_amount: 5 }))).status).toBe(409);
    expect((await post(cart("li-replay", { currency: "USD" }))).status).toBe(409);
  });

  test("a worker gets the currency, the total in minor units and the priced lines", async () => {
    await post(cart("li-work"));
    const seen = await waitFor(() =>
      (existsSync(journal) ? readFileSync(journal, "utf8") : "")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line))
        .find((order) => order.orderId === "li-work"),
    );
    expect(seen).toMatchObject({
      currency: "EUR",
      totalMinor: 5388,
      itemIds: ["TSHIRT-M", "MUG"],
      cart: {
        lines: [
          { sku: "TSHIRT-M", quantity: 2, unitPrice: 1999, name: "T-shirt, medium" },
          { sku: "MUG", quantity: 1, unitPrice: 850 },
        ],
        shipping: 490,
        tax: 100,
        discount: 50,
      },
    });
  });

  test("Prometheus counts the value of the orders created, by currency", async () => {
    await post({
      user_id: "u",
      order_id: "li-prom",
      currency: "KWD",
      items: [{ sku: "A", quantity: 2, unit_price: 0.125 }],
    });
    const res = await fetch(new URL("/metrics", service.url), {
      headers: { accept: "text/plain;version=0.0.4" },
    });
    const text = await res.text();
    expect(text).toMatch(/\norder_value_created_total\{currency="KWD"\} [\d.]+\n/);
    const kwd = Number(/\norder_value_created_total\{currency="KWD"\} ([\d.]+)\n/.exec(text)?.[1]);
    // li-KWD (3 × 1.234) and li-prom (2 × 0.125).
    expect(kwd).toBeCloseTo(3.702 + 0.25, 9);
  });

  test("the dashboard's value per minute stays exact past 2^53 minor units (no 500)", async () => {
    const huge = (i: number) => ({
      user_id: "u",
      order_id: `li-huge-${i}`,
      currency: "CHF",
      items: [{ sku: "A", quantity: 1, unit_price: 9999999999999.99 }],
    });
    for (let i = 0; i < 10; i++) expect((await post(huge(i))).status).toBe(201);
    // Each replica publishes its minute once a second: wait for the one with these orders.
    const value = await waitFor(async () => {
      const res = await call(service.url, "GET", "/dashboard/data");
      expect(res.status).toBe(200);
      return res.body.value_accepted.find((row: { currency: string }) => row.currency === "CHF");
    });
    expect(value).toEqual({
      currency: "CHF",
      amount: "99999999999999.90",
      minor: 9_999_999_999_999_990,
    });
  });
});

// SQLite only: the second service must open the first one's database (on PostgreSQL each test
// service gets a fresh database).
test.skipIf(ON_POSTGRES)(
  "an order that named no currency replays as the same order after DEFAULT_CURRENCY changed",
  async () => {
    const database = join(tempDir(), "orders.db");
    const seed = { user_id: "u", order_id: "li-default", item_ids: ["a"], total_amount: 10 };
    const usd = await startService({ DATABASE_PATH: database });
    expect((await call(usd.url, "POST", "/orders", seed)).status).toBe(201);
    await usd.server.stop();
    const yen = await startService({ DATABASE_PATH: database, DEFAULT_CURRENCY: "JPY" });
    expect((await call(yen.url, "POST", "/orders", seed)).status).toBe(200);
    expect((await call(yen.url, "POST", "/orders", { ...seed, total_amount: 11 })).status).toBe(409);
    expect((await call(yen.url, "GET", "/orders/li-default")).body.currency).toBe("USD");
  },
);
