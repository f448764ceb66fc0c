/**
 * Every route's query parameters are strict, as GET /orders's are: driven by the served OpenAPI
 * document, so a new route or parameter is covered without editing this file. For each operation
 * with query parameters: a bad percent-escape is 400 INVALID_QUERY, a parameter given twice and
 * an unknown one are 422 VALIDATION_FAILED, and an integer is decimal digits only (1e2, 0x10, 1.0,
 * +2 and " 2" are 422 naming it). Real service, real HTTP.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { call, cleanup, startService } from "./helpers.ts";

type Parameter = { name: string; in: string; schema?: { type?: string } };
type Operation = { method: string; path: string; query: Parameter[] };

// GET /metrics takes parameters it does not know (a scraper's or proxy's own), by design: they are
// ignored, while `format` itself is strict (docs/ARCHITECTURE.md, decisions).
const UNKNOWN_ALLOWED = new Set(["/metrics"]);

let base: URL;
let operations: Operation[] = [];
beforeAll(async () => {
  base = (await startService()).url;
  const doc = (await call(base, "GET", "/swagger/json")).body as {
    paths: Record<string, Record<string, { parameters?: Parameter[] }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      // Path parameters get a value that exists nowhere: the query is checked before the lookup.
      path: path.replace(/\{[^}]+\}/g, "fz-1"),
      query: (op.parameters ?? []).filter((p) => p.in === "query"),
    })),
  );
});
afterAll(cleanup);

/** The answer's status and error code. */
async function ask(
  method: string,
  target: string,
): Promise<[number, string | undefined, string | undefined]> {
  const answer = await call(base, method, target);
  return [answer.status, answer.body?.error?.code, answer.body?.error?.details?.[0]?.field];
}

test("the document names the routes with query parameters (the cases below are not empty)", () => {
  const withQuery = operations.filter((op) => op.query.length > 0).map((op) => `${op.method} ${op.path}`);
  expect(withQuery).toContain("GET /orders");
  expect(withQuery).toContain("GET /webhooks");
  expect(withQuery).toContain("GET /webhooks/fz-1/deliveries");
  expect(withQuery).toContain("GET /metrics");
  expect(withQuery).toContain("GET /events");
});

test("every query parameter: a bad escape is 400, twice is 422; an unknown parameter is 422", async () => {
  for (const op of operations) {
    for (const { name } of op.query) {
      expect([op.path, name, ...(await ask(op.method, `${op.path}?${name}=%FF`))]).toEqual([
        op.path,
        name,
        400,
        "INVALID_QUERY",
        undefined,
      ]);
      const [status, code, field] = await ask(op.method, `${op.path}?${name}=1&${name}=2`);
      expect([op.path, name, status, code, field]).toEqual([op.path, name, 422, "VALIDATION_FAILED", name]);
    }
    if (op.query.length > 0 && !UNKNOWN_ALLOWED.has(op.path)) {
      const [status, code] = await ask(op.method, `${op.path}?zz_unknown=1`);
      expect([op.path, status, code]).toEqual([op.path, 422, "VALIDATION_FAILED"]);
    }
  }
});

test("every integer query parameter takes decimal digits only", async () => {
  const integers = operations.flatMap((op) =>
    op.query.filter((p) => p.schema?.type === "integer").map((p) => ({ op, name: p.name })),
  );
  expect(integers.length).toBeGreaterThanOrEqual(4);
  for (const { op, name } of integers) {
    for (const bad of ["1e2", "0x10", "1.0", "%2B2", "%202", "-1"]) {
      const [status, code, field] = await ask(op.method, `${op.path}?${name}=${bad}`);
      expect([op.path, name, bad, status, code, field]).toEqual([
        op.path,
        name,
        bad,
        422,
        "VALIDATION_FAILED",
        name,
      ]);
    }
  }
});
