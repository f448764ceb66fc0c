/**
 * The API docs: Swagger UI renders in a real headless Chromium with the network cut (nothing but
 * the service answers), under its Content-Security-Policy with nothing refused, and the OpenAPI
 * document says what the service really does.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { AppError, type ErrorCode } from "../src/kit/errors.ts";
import { EVENT_TYPES } from "../src/lifecycle.ts";
import { cleanDocument } from "../src/openapi-document.ts";
import { browserMissing, expectPagePolicy, launchBrowser, offlineBut, watchCsp } from "./browser.ts";
import { call, cleanup, order, startService, type TestService, waitFor } from "./helpers.ts";

// Debian's chromium; .ci/run installs it when missing.
const BROWSER_TIMEOUT_MS = 15_000;

let service: TestService;
let doc: any;
// The document with every $ref replaced by the schema it names, for the tests that read schemas.
let inlined: any;
beforeAll(async () => {
  service = await startService({ PROCESSING_TIME_MS: "0" });
  doc = (await call(service.url, "GET", "/swagger/json")).body;
  inlined = inlineRefs(doc);
});

/** `document` with each `$ref` to its components replaced by a copy of the schema it names. */
function inlineRefs(document: any): any {
  const resolve = (node: any): any => {
    if (Array.isArray(node)) return node.map(resolve);
    if (!node || typeof node !== "object") return node;
    if (typeof node.$ref === "string")
      return resolve(document.components.schemas[node.$ref.split("/").pop()]);
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolve(value)]));
  };
  return resolve(document);
}

/** An error status's schema narrowed to its codes (the second half of `allOf: [Error, narrowed]`). */
const narrowed = (schema: any) => schema.allOf?.[1] ?? schema;
afterAll(cleanup);

describe.skipIf(browserMissing("Swagger UI browser test"))("Swagger UI offline", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(() => browser?.close());

  /**
   * Opens `path` with every request for another host aborted; returns the operations, those
   * requests, and what the page's Content-Security-Policy refused. `use` does more on the page
   * before it closes.
   */
  async function openOffline(path: string, use: (page: Page) => Promise<void> = async () => {}) {
    const context = await browser.newContext();
    const foreign = await offlineBut(context, service.url.host);
    const refused = await watchCsp(context);
    try {
      const page = await context.newPage();
      const failed: string[] = [];
      const errors: string[] = [];
      page.on("requestfailed", (request) => failed.push(request.url()));
      page.on("pageerror", (error) => errors.push(error.message));
      const response = await page.goto(new URL(path, service.url).href);
      const headers = (await response?.allHeaders()) ?? {};
      await page.waitForSelector(".opblock", { timeout: BROWSER_TIMEOUT_MS }).catch((error: Error) => {
        const tried = foreign.join(", ") || "none";
        throw new Error(
          `Swagger UI rendered no operation; requests for other hosts: ${tried}. ${error.message}`,
        );
      });
      const operations = await page.$$eval(".opblock-summary", (summaries) =>
        summaries.map(
          (summary) =>
            `${summary.querySelector(".opblock-summary-method")?.textContent} ${summary.querySelector(".opblock-summary-path")?.getAttribute("data-path")}`,
        ),
      );
      // The stylesheet applied: POST's method badge is Swagger UI's green, not unstyled.
      const postColour = await page.$eval(
        ".opblock-post .opblock-summary-method",
        (badge) => (globalThis as any).getComputedStyle(badge).backgroundColor,
      );
      await use(page);
      return { operations, postColour, headers, foreign, failed, errors, refused };
    } finally {
      await context.close();
    }
  }

  test(
    "/swagger lists the operations, styled, with no request to any other host",
    async () => {
      const { operations, postColour, foreign, failed, refused } = await openOffline("/swagger");
      expect(operations).toEqual(
        expect.arrayContaining(["POST /orders", "GET /orders/{order_id}/status", "GET /metrics"]),
      );
      // Every operation of the document, the webhooks' too: one per event type.
      const inDocument = (section: Record<string, object>) =>
        Object.values(section).reduce((sum, methods) => sum + Object.keys(methods).length, 0);
      expect(inDocument(doc.webhooks)).toBe(EVENT_TYPES.length);
      expect(operations.length).toBe(inDocument(doc.paths) + inDocument(doc.webhooks));
      expect(postColour).toBe("rgb(73, 204, 144)");
      expect(foreign).toEqual([]);
      expect(failed).toEqual([]);
      expect(refused).toEqual([]);
    },
    BROWSER_TIMEOUT_MS * 2,
  );

  test(
    "/swagger is sent with a Content-Security-Policy (its own scripts only, no frame), and Try it out works under it with nothing refused",
    async () => {
      const id = "swagger-csp-1";
      const { operations, headers, foreign, failed, errors, refused } = await openOffline(
        "/swagger",
        async (page) => {
          const post = page.locator(".opblock-post").filter({ hasText: "/orders" }).first();
          await post.locator(".opblock-summary").click();
          await post.getByRole("button", { name: "Try it out" }).click();
          await post.locator("textarea.body-param__text").fill(JSON.stringify(order(id)));
          await post.getByRole("button", { name: "Execute" }).click();
          await post
            .locator(".live-responses-table .response-col_status")
            .filter({ hasText: "201" })
            .waitFor({ timeout: BROWSER_TIMEOUT_MS });
        },
      );
      expectPagePolicy(headers);
      // The document is not a page: no policy of its own.
      const json = await fetch(new URL("/swagger/json", service.url));
      expect(json.headers.get("content-security-policy")).toBeNull();
      // The page has no inline script or style left: everything comes from a file.
      const html = await (await fetch(new URL("/swagger", service.url))).text();
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=/);

      expect(operations).toContain("POST /orders");
      expect((await call(service.url, "GET", `/orders/${id}/status`)).status).toBe(200);
      expect(foreign).toEqual([]);
      expect(failed).toEqual([]);
      expect(errors).toEqual([]);
      expect(refused).toEqual([]);
    },
    BROWSER_TIMEOUT_MS * 2,
  );

  test(
    "/swagger/ (Elysia routes it to the same page) renders too",
    async () => {
      const { operations, foreign, refused } = await openOffline("/swagger/");
      expect(operations).toContain("POST /orders");
      expect(foreign).toEqual([]);
      expect(refused).toEqual([]);
    },
    BROWSER_TIMEOUT_MS * 2,
  );
});

describe("Swagger UI assets", () => {
  test("come from the installed swagger-ui-dist, with their content types and long cache headers", async () => {
    const dist = dirname(fileURLToPath(import.meta.resolve("swagger-ui-dist/package.json")));
    const { version } = await Bun.file(join(dist, "package.json")).json();
    const html = await (await fetch(new URL("/swagger", service.url))).text();
    expect(html).not.toContain("unpkg.com");
    for (const [name, type] of [
      ["swagger-ui-bundle.js", "text/javascript; charset=utf-8"],
      ["swagger-ui.css", "text/css; charset=utf-8"],
    ] as const) {
      const path = `/swagger/assets/${version}/${name}`;
      expect(html).toContain(`"${path}"`);
      const res = await fetch(new URL(path, service.url));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(type);
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(Buffer.from(await res.arrayBuffer()).equals(await Bun.file(join(dist, name)).bytes())).toBe(
        true,
      );
    }
  });
});

/** Every schema object in the document's operations, with where it is. */
function schemasOf(document: any): [string, any][] {
  const found: [string, any][] = [];
  const walk = (schema: any, at: string) => {
    if (!schema || typeof schema !== "object") return;
    found.push([at, schema]);
    for (const [key, value] of Object.entries<any>(schema)) {
      if (["properties", "patternProperties", "$defs"].includes(key)) {
        for (const [name, child] of Object.entries(value)) walk(child, `${at}.${key}.${name}`);
      } else if (["anyOf", "oneOf", "allOf", "prefixItems"].includes(key)) {
        for (const [i, child] of value.entries()) walk(child, `${at}.${key}.${i}`);
      } else if (["items", "additionalProperties", "not"].includes(key)) walk(value, `${at}.${key}`);
    }
  };
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      const at = `${method.toUpperCase()} ${path}`;
      for (const parameter of operation.parameters ?? []) walk(parameter.schema, `${at} ${parameter.name}`);
      for (const media of Object.values<any>(operation.requestBody?.content ?? {}))
        walk(media.schema, `${at} body`);
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        for (const media of Object.values<any>(response.content ?? {})) walk(media.schema, `${at} ${status}`);
      }
    }
  }
  return found;
}

describe("the OpenAPI document", () => {
  test("integers are integers, and no schema has a keyword only Elysia or OpenAPI 3.0 reads", () => {
    const schemas = schemasOf(inlined);
    expect(schemas.length).toBeGreaterThan(100);
    const offending = schemas.flatMap(([at, schema]) => [
      ...(schema.anyOf?.some(
        (branch: any) => branch.type === "string" && /integer|numeric/.test(branch.format),
      )
        ? [`${at}: anyOf string/number`]
        : []),
      ...["error", "nullable"].filter((key) => key in schema).map((key) => `${at}: ${key}`),
      ...(schema.format === "printable" ? [`${at}: format printable`] : []),
    ]);
    expect(offending).toEqual([]);
    const order = inlined.paths["/orders/{order_id}"].get.responses["200"].content["application/json"].schema;
    expect(order.properties.attempts.type).toBe("integer");
    expect(order.properties.started_at.type).toEqual(["string", "null"]);
    const limit = doc.paths["/orders"].get.parameters.find((p: any) => p.name === "limit");
    expect(limit.schema).toEqual({ description: "1 to 500; 50 when absent", type: "integer" });
    const metrics = inlined.paths["/metrics"].get.responses["200"].content["application/json"].schema;
    expect(metrics.properties.total_orders.type).toBe("integer");
  });

  test("POST /orders 201 documents the Location header", () => {
    const created = doc.paths["/orders"].post.responses["201"];
    expect(created.headers.Location).toEqual({
      description: expect.stringContaining("/orders/{order_id}"),
      schema: { type: "string" },
    });
  });

  test("each operation's error statuses each have examples, one per code the status lists, each under its status", () => {
    let statuses = 0;
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        const key = `${method.toUpperCase()} ${path}`;
        // The routes' own declarations are read, then left out of the published document.
        expect({ key, extensions: Object.keys(operation).filter((name) => name.startsWith("x-")) }).toEqual({
          key,
          extensions: [],
        });
        const documented = Object.keys(operation.responses).filter((status) => Number(status) >= 400);
        for (const status of documented) {
          statuses++;
          const media = operation.responses[status].content["application/json"];
          const codes: ErrorCode[] = Object.values<any>(media.examples ?? {}).map(
            (example) => example.value.error.code,
          );
          expect({ key, status, examples: codes.length > 0 }).toEqual({ key, status, examples: true });
          expect({ key, status, codes }).toEqual({
            key,
            status,
            codes: narrowed(media.schema).properties.error.properties.code.enum,
          });
          // The catalogue answers each code with this status.
          const answered = codes.map((code) => String(new AppError(code, "").status));
          expect({ key, status, answered }).toEqual({ key, status, answered: codes.map(() => status) });
        }
      }
    }
    expect(statuses).toBeGreaterThan(30);
  });

  test("typed details: VALIDATION_FAILED lists field problems, TOTAL_MISMATCH both totals, NOT_READY what is not ready", () => {
    const error = (path: string, method: string, status: string) =>
      narrowed(doc.paths[path][method].responses[status].content["application/json"].schema).properties.error;
    const invalid = error("/orders", "post", "422");
    expect(invalid.required).toContain("details");
    expect(invalid.properties.code.enum).toEqual(["VALIDATION_FAILED", "TOTAL_MISMATCH"]);
    const [problems, totals] = invalid.properties.details.anyOf;
    expect(problems.items.required).toEqual(["field", "message"]);
    expect(totals.required).toContain("computed_minor");
    // A 422 of another route has only the problems.
    expect(error("/webhooks", "post", "422").properties.details.items.required).toEqual(["field", "message"]);
    expect(error("/ready", "get", "503").properties.details.properties.workers.properties.ready.type).toBe(
      "integer",
    );
    expect(error("/orders/{order_id}", "get", "404").properties.details).toBeUndefined();
  });

  test("the examples are what the service answers", async () => {
    const example = (key: string, status: number) => {
      const [method = "", path = ""] = key.split(" ");
      const media =
        doc.paths[path][method.toLowerCase()].responses[String(status)].content["application/json"];
      return Object.values<any>(media.examples).map((entry) => entry.value);
    };
    const json = { "content-type": "application/json" };
    const post = (body: string, headers: Record<string, string> = json) =>
      fetch(new URL("/orders", service.url), { method: "POST", headers, body });
    const id = "order_456"; // the examples' order
    const cases: [string, number, () => Promise<Response>][] = [
      ["GET /orders/{order_id}", 404, () => fetch(new URL(`/orders/${id}`, service.url))],
      ["GET /orders/{order_id}/status", 404, () => fetch(new URL(`/orders/${id}/status`, service.url))],
      [
        "GET /orders/{order_id}/status",
        422,
        () => fetch(new URL(`/orders/${id}/status?wait_for=done`, service.url)),
      ],
      ["GET /events", 422, () => fetch(new URL("/events?last_event_id=x", service.url))],
      [
        "DELETE /webhooks/{id}",
        404,
        () =>
          fetch(new URL("/webhooks/3f6b0c1e-2d4a-4c8e-9a57-1b2c3d4e5f60", service.url), { method: "DELETE" }),
      ],
      [
        "GET /webhooks/{id}/deliveries",
        404,
        () => fetch(new URL("/webhooks/3f6b0c1e-2d4a-4c8e-9a57-1b2c3d4e5f60/deliveries", service.url)),
      ],
      [
        "POST /webhooks",
        422,
        () =>
          fetch(new URL("/webhooks", service.url), {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ url: "http://127.0.0.1/hook" }),
          }),
      ],
      ["GET /events", 400, () => fetch(new URL("/events?user_id=%FF", service.url))],
      ["GET /orders/{order_id}/events", 404, () => fetch(new URL(`/orders/${id}/events`, service.url))],
      [
        "POST /orders/{order_id}/retry",
        404,
        () => fetch(new URL(`/orders/${id}/retry`, service.url), { method: "POST" }),
      ],
      [
        "POST /orders/{order_id}/cancel",
        404,
        () => fetch(new URL(`/orders/${id}/cancel`, service.url), { method: "POST" }),
      ],
      ["POST /orders", 400, () => post("{bad")],
      ["POST /orders", 413, () => post(JSON.stringify(order(id, { user_id: "x".repeat(1024 * 1024) })))],
      ["POST /orders", 415, () => post("{}", { "content-type": "text/plain" })],
      ["POST /orders", 422, () => post(JSON.stringify(order(id, { total_amount: 1.001 })))],
      ["GET /orders", 400, () => fetch(new URL("/orders?user_id=%FF", service.url))],
      ["GET /orders", 422, () => fetch(new URL("/orders?limit=0", service.url))],
      ["GET /metrics", 422, () => fetch(new URL("/metrics?format=xml", service.url))],
      [
        "POST /orders",
        409,
        async () => {
          await post(JSON.stringify(order(id)));
          return post(JSON.stringify(order(id, { total_amount: 1 })));
        },
      ],
      [
        "POST /orders/{order_id}/cancel",
        409,
        async () => {
          await waitFor(
            async () => (await call(service.url, "GET", `/orders/${id}/status`)).body.status === "completed",
          );
          return fetch(new URL(`/orders/${id}/cancel`, service.url), { method: "POST" });
        },
      ],
      [
        "POST /orders/{order_id}/retry",
        409,
        () => fetch(new URL(`/orders/${id}/retry`, service.url), { method: "POST" }),
      ],
    ];
    for (const [key, status, send] of cases) {
      const res = await send();
      expect({ key, status: res.status }).toEqual({ key, status });
      expect(example(key, status)).toContainEqual(await res.json());
    }
  });

  test("with keys off no operation needs one; with keys on both schemes are declared and required", async () => {
    expect(doc.security).toEqual([]);
    expect(doc.components.securitySchemes).toBeUndefined();
    const withKeys = await startService({ API_KEYS: "docs-key-0123456789abcdef" });
    const keyed = (await call(withKeys.url, "GET", "/swagger/json")).body;
    expect(keyed.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: "http", scheme: "bearer" }),
      apiKey: expect.objectContaining({ type: "apiKey", in: "header", name: "X-API-Key" }),
    });
    expect(keyed.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(keyed.paths["/health"].get.security).toEqual([]);
    expect(keyed.paths["/health"].get.responses["401"]).toBeUndefined();
    const create = keyed.paths["/orders"].post;
    expect(create.security).toBeUndefined();
    expect(create.responses["401"].content["application/json"].examples.UNAUTHORIZED.value.error.code).toBe(
      "UNAUTHORIZED",
    );
    expect(create.responses["401"].headers["WWW-Authenticate"]).toBeDefined();
  });

  test("cleaning the published document again changes nothing (the lint script relies on it)", () => {
    expect(cleanDocument(doc, { apiKeysOn: false })).toEqual(doc);
  });
});
