/** The HTTP contract of the orders API, against a real service on a real SQLite file. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { call, cleanup, order, queryService, startService, type TestService, waitFor } from "./helpers.ts";

let service: TestService;
beforeAll(async () => {
  service = await startService({ PROCESSING_TIME_MS: "0" });
});
afterAll(cleanup);

const post = (body: unknown) => call(service.url, "POST", "/orders", body);
const raw = (init: RequestInit, path = "/orders") =>
  fetch(new URL(path, service.url), { method: "POST", ...init });

function expectEnvelope(body: any, code: string) {
  expect(body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  expect(Object.keys(body.error).every((key) => ["code", "message", "details"].includes(key))).toBe(true);
}

describe("POST /orders", () => {
  test("creates a pending order: 201, the seed's body, a Location header", async () => {
    const res = await post(order("create-1"));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ order_id: "create-1", status: "pending" });
    expect(res.headers.get("location")).toBe("/orders/create-1");
  });

  test("returns the amount exactly as sent, stored as minor units (cents)", async () => {
    await post(order("money-1", { total_amount: 150.99 }));
    await post(order("money-2", { total_amount: 0.1 }));
    expect((await call(service.url, "GET", "/orders/money-1")).body.total_amount).toBe(150.99);
    expect((await call(service.url, "GET", "/orders/money-2")).body.total_amount).toBe(0.1);
    const cents = await queryService(service.config, {
      sqlite: "select total_minor, currency from orders where order_id = 'money-1'",
      postgres: "select total_minor::int, currency from orders where order_id = 'money-1'",
    });
    expect(cents).toEqual([{ total_minor: 15099, currency: "USD" }]);
  });

  test("an identical replay answers 200 with the current status and creates nothing", async () => {
    expect((await post(order("replay-1"))).status).toBe(201);
    const replay = await post(order("replay-1"));
    expect(replay.status).toBe(200);
    expect(replay.body.order_id).toBe("replay-1");
    const count = await queryService(service.config, {
      sqlite: "select count(*) as n from orders where order_id = 'replay-1'",
      postgres: "select count(*)::int as n from orders where order_id = 'replay-1'",
    });
    expect(count).toEqual([{ n: 1 }]);
  });

  test("the same order_id with a different payload is a 409 ORDER_ID_CONFLICT", async () => {
    await post(order("conflict-1"));
    for (const change of [{ total_amount: 1 }, { user_id: "someone-else" }, { item_ids: ["other"] }]) {
      const res = await post(order("conflict-1", change));
      expect(res.status).toBe(409);
      expectEnvelope(res.body, "ORDER_ID_CONFLICT");
    }
  });

  test("50 concurrent identical POSTs create exactly one order, processed once", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => post(order("concurrent-1"))));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(49);
    const done = await waitFor(async () => {
      const body = (await call(service.url, "GET", "/orders/concurrent-1")).body;
      return body.status === "completed" && body;
    });
    expect(done.attempts).toBe(1);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ["empty user_id", { user_id: "" }, "user_id"],
    ["user_id over 128 chars", { user_id: "u".repeat(129) }, "user_id"],
    ["user_id not a string", { user_id: 12 }, "user_id"],
    ["empty order_id", { order_id: "" }, "order_id"],
    ["order_id over 128 chars", { order_id: "o".repeat(129) }, "order_id"],
    ["order_id with a space", { order_id: "a b" }, "order_id"],
    ["order_id with a slash", { order_id: "a/b" }, "order_id"],
    ["empty item_ids", { item_ids: [] }, "item_ids"],
    ["item_ids not an array", { item_ids: "item_1" }, "item_ids"],
    ["over 1,000 item_ids", { item_ids: Array.from({ length: 1001 }, (_, i) => `i${i}`) }, "item_ids"],
    ["an empty item id", { item_ids: ["ok", ""] }, "item_ids.1"],
    ["an item id over 128 chars", { item_ids: ["x".repeat(129)] }, "item_ids.0"],
    ["an item id not a string", { item_ids: [1] }, "item_ids.0"],
    ["negative total_amount", { total_amount: -0.01 }, "total_amount"],
    ["total_amount over 1e12", { total_amount: 1e12 + 1 }, "total_amount"],
    ["total_amount with three decimals", { total_amount: 1.005 }, "total_amount"],
    ["total_amount with float drift", { total_amount: 0.1 + 0.2 }, "total_amount"],
    ["total_amount as a string", { total_amount: "150.99" }, "total_amount"],
    ["an unknown field", { coupon: "FREE" }, "coupon"],
  ];
  for (const [name, change, field] of invalid) {
    test(`rejects ${name} with 422 naming ${field}`, async () => {
      const res = await post(order(`invalid-${field}`, change));
      expect(res.status).toBe(422);
      expectEnvelope(res.body, "VALIDATION_FAILED");
      expect(res.body.error.details).toContainEqual({ field, message: expect.any(String) });
    });
  }

  test("a body with several invalid fields reports every one at once, the two-decimal rule included", async () => {
    const res = await post({ user_id: "", order_id: "a b", item_ids: [], total_amount: 1.001 });
    expect(res.status).toBe(422);
    const fields = res.body.error.details.map((d: any) => d.field);
    expect(fields.sort()).toEqual(["item_ids", "order_id", "total_amount", "user_id"]);
  });

  test("an empty object names each missing field once", async () => {
    const res = await post({});
    expect(res.status).toBe(422);
    const fields = res.body.error.details.map((d: any) => d.field);
    expect(fields.sort()).toEqual(["item_ids", "order_id", "total_amount", "user_id"]);
  });

  test("rejects a missing field with 422", async () => {
    const { total_amount: _dropped, ...body } = order("missing-1");
    const res = await post(body);
    expect(res.status).toBe(422);
    expect(res.body.error.details).toContainEqual({ field: "total_amount", message: expect.any(String) });
  });

  test("accepts the boundaries: 128-char ids, 1,000 items, 0 and 1e12", async () => {
    expect((await post(order("b".repeat(128), { user_id: "u".repeat(128) }))).status).toBe(201);
    expect(
      (await post(order("many-items", { item_ids: Array.from({ length: 1000 }, (_, i) => `i${i}`) }))).status,
    ).toBe(201);
    expect((await post(order("zero", { total_amount: 0 }))).status).toBe(201);
    expect((await post(order("max", { total_amount: 1e12 }))).status).toBe(201);
  });

  test("malformed JSON, non-objects, wrong content type and oversized bodies get the envelope", async () => {
    const json = { "content-type": "application/json" };
    const cases: [RequestInit, number, string][] = [
      [{ headers: json, body: "{bad" }, 400, "INVALID_JSON"],
      [{ headers: json, body: "" }, 400, "INVALID_JSON"],
      [{ headers: json, body: "null" }, 422, "VALIDATION_FAILED"],
      [{ headers: json, body: "[1,2]" }, 422, "VALIDATION_FAILED"],
      [{ headers: json, body: '"text"' }, 422, "VALIDATION_FAILED"],
      [{ headers: { "content-type": "text/plain" }, body: "{}" }, 415, "UNSUPPORTED_MEDIA_TYPE"],
      [
        { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=1" },
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      ],
      [{ body: undefined }, 415, "UNSUPPORTED_MEDIA_TYPE"],
      [
        { headers: json, body: JSON.stringify(order("big", { user_id: "x".repeat(1024 * 1024) })) },
        413,
        "PAYLOAD_TOO_LARGE",
      ],
    ];
    for (const [init, status, code] of cases) {
      const res = await raw(init);
      expect({ status: res.status, code }).toEqual({ status, code });
      expectEnvelope(await res.json(), code);
    }
  });

  test("an oversized chunked body without a length is refused with 413", async () => {
    const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await raw({ headers: { "content-type": "application/json" }, body: stream });
    expect(res.status).toBe(413);
    expectEnvelope(await res.json(), "PAYLOAD_TOO_LARGE");
  });
});

describe("reading orders", () => {
  test("GET /orders/:id/status returns the seed's shape; unknown ids are 404 ORDER_NOT_FOUND", async () => {
    await post(order("status-1"));
    const res = await call(service.url, "GET", "/orders/status-1/status");
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(["order_id", "status"]);
    const missing = await call(service.url, "GET", "/orders/nope/status");
    expect(missing.status).toBe(404);
    expectEnvelope(missing.body, "ORDER_NOT_FOUND");
  });

  test("GET /orders/:id returns the whole order with ISO-8601 UTC times", async () => {
    await post(order("whole-1", { user_id: "u-whole", item_ids: ["a", "b", "c"], total_amount: 19.99 }));
    const done = await waitFor(async () => {
      const body = (await call(service.url, "GET", "/orders/whole-1")).body;
      return body.status === "completed" && body;
    });
    expect(done).toEqual({
      order_id: "whole-1",
      user_id: "u-whole",
      item_ids: ["a", "b", "c"],
      total_amount: 19.99,
      // A seed-shaped order: one unpriced line per item id, in the default currency.
      currency: "USD",
      items: ["a", "b", "c"].map((sku) => ({ sku, quantity: 1, unit_price: null, line_total: null })),
      totals: {
        subtotal: null,
        shipping: { amount: "0.00", minor: 0 },
        tax: { amount: "0.00", minor: 0 },
        discount: { amount: "0.00", minor: 0 },
        total: { amount: "19.99", minor: 1999 },
      },
      status: "completed",
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      started_at: expect.stringMatching(/Z$/),
      completed_at: expect.stringMatching(/Z$/),
      attempts: 1,
      last_error: null,
    });
    expect(Date.parse(done.completed_at)).toBeGreaterThanOrEqual(Date.parse(done.started_at));
    expect((await call(service.url, "GET", "/orders/nope")).status).toBe(404);
  });

  test("GET /orders pages in creation order with a cursor, stable while orders arrive", async () => {
    const user = "pager";
    for (let i = 0; i < 5; i++) await post(order(`page-${i}`, { user_id: user }));
    const first = await call(service.url, "GET", `/orders?user_id=${user}&limit=2`);
    expect(first.body.orders.map((o: any) => o.order_id)).toEqual(["page-0", "page-1"]);
    await post(order("page-5", { user_id: user }));
    const second = await call(
      service.url,
      "GET",
      `/orders?user_id=${user}&limit=2&cursor=${first.body.next_cursor}`,
    );
    expect(second.body.orders.map((o: any) => o.order_id)).toEqual(["page-2", "page-3"]);
    const third = await call(
      service.url,
      "GET",
      `/orders?user_id=${user}&limit=2&cursor=${second.body.next_cursor}`,
    );
    expect(third.body.orders.map((o: any) => o.order_id)).toEqual(["page-4", "page-5"]);
    expect(third.body.next_cursor).toBeNull();
  });

  test("GET /orders filters by status and validates its query", async () => {
    await post(order("filter-1"));
    await waitFor(
      async () => (await call(service.url, "GET", "/orders/filter-1/status")).body.status === "completed",
    );
    const completed = await call(service.url, "GET", "/orders?status=completed&limit=500");
    expect(completed.body.orders.length).toBeGreaterThan(0);
    expect(completed.body.orders.every((o: any) => o.status === "completed")).toBe(true);
    const defaults = await call(service.url, "GET", "/orders");
    expect(defaults.body.orders.length).toBeLessThanOrEqual(50);
    for (const [query, field] of [
      ["status=shipped", "status"],
      ["limit=0", "limit"],
      ["limit=501", "limit"],
      ["limit=-1", "limit"],
      ["limit=abc", "limit"],
      ["cursor=LTE", "cursor"],
      ["color=red", "color"],
    ]) {
      const res = await call(service.url, "GET", `/orders?${query}`);
      expect({ query, status: res.status }).toEqual({ query, status: 422 });
      expectEnvelope(res.body, "VALIDATION_FAILED");
      expect({ query, fields: res.body.error.details.map((d: any) => d.field) }).toEqual({
        query,
        fields: [field],
      });
    }
  });
});

describe("other routes", () => {
  test("unknown routes get 404 ROUTE_NOT_FOUND in the envelope", async () => {
    const res = await call(service.url, "GET", "/nothing-here");
    expect(res.status).toBe(404);
    expectEnvelope(res.body, "ROUTE_NOT_FOUND");
  });

  test("/health and /ready answer 200 when the service is up", async () => {
    expect((await call(service.url, "GET", "/health")).body).toEqual({ status: "ok" });
    const ready = await call(service.url, "GET", "/ready");
    expect(ready.status).toBe(200);
    expect(ready.body.workers).toEqual({ ready: 4, expected: 4 });
  });

  test("/swagger serves Swagger UI and /swagger/json documents every route with its errors", async () => {
    const ui = await fetch(new URL("/swagger", service.url));
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain("swagger-ui");
    const spec = (await call(service.url, "GET", "/swagger/json")).body;
    expect(spec.openapi).toStartWith("3.");
    const paths = Object.keys(spec.paths).sort();
    for (const path of [
      "/orders",
      "/orders/{order_id}",
      "/orders/{order_id}/status",
      "/orders/{order_id}/cancel",
      "/metrics",
      "/health",
      "/ready",
    ]) {
      expect(paths).toContain(path);
    }
    const create = spec.paths["/orders"].post;
    expect(Object.keys(create.responses)).toEqual(
      expect.arrayContaining(["201", "200", "409", "413", "415", "422"]),
    );
    // The body is the named schema NewOrder, with its example.
    expect(create.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/NewOrder",
    });
    expect(JSON.stringify(spec.components.schemas.NewOrder)).toContain("order_456");
  });
});
