/**
 * The HTTP policy through real HTTP: request ids and access logs, API keys, rate limits,
 * backpressure on new orders, slow bodies, security headers and CORS.
 */
import { afterEach, expect, spyOn, test } from "bun:test";
import crypto from "node:crypto";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import type { Dashboard } from "../src/dashboard/service.ts";
import type { EventFeed } from "../src/events/feed.ts";
import type { EventDeps } from "../src/events/routes.ts";
import { fromWireError, storageUnavailable, toWireError } from "../src/kit/errors.ts";
import { flushLogs } from "../src/kit/logger.ts";
import type { OrderStore } from "../src/orders/store.ts";
import type { SystemDeps } from "../src/system/routes.ts";
import type { WebhookDeps } from "../src/webhooks/service.ts";
import { cleanup, order, spawnService, startService, testEnv, waitFor } from "./helpers.ts";

afterEach(cleanup);

const KEY = "right-key-0123456789abcdef";
const OTHER_KEY = "other-key-0123456789abcdef";
const WRONG_KEY = "wrong-key-0123456789abcdef";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Answer = { status: number; body: any; headers: Headers };

/** A request with headers of our choosing; the body is parsed when it is JSON. */
async function send(
  base: URL,
  method: string,
  path: string,
  { headers = {}, body }: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const response = await fetch(new URL(path, base), {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = response.headers.get("content-type")?.startsWith("application/json");
  return { status: response.status, body: json && text ? JSON.parse(text) : text, headers: response.headers };
}

/** Sends raw bytes on a new connection and returns everything the server answers until it closes. */
async function raw(url: URL, request: string): Promise<string> {
  let out = "";
  const { promise, resolve } = Promise.withResolvers<string>();
  await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port),
    socket: {
      open: (socket) => {
        socket.write(request);
      },
      data: (_socket, data) => {
        out += data.toString();
      },
      close: () => resolve(out),
    },
  });
  return promise;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

test("request ids: a sane client id is echoed, an absent or insane one replaced, errors carry it", async () => {
  const { url } = await startService();
  expect(
    (await send(url, "GET", "/health", { headers: { "x-request-id": "req-1.a_b:c" } })).headers.get(
      "x-request-id",
    ),
  ).toBe("req-1.a_b:c");
  expect((await send(url, "GET", "/health")).headers.get("x-request-id")).toMatch(UUID);
  for (const insane of ["x".repeat(129), "has space", "semi;colon", 'quote"d', "a/b"]) {
    const answer = await send(url, "GET", "/health", { headers: { "x-request-id": insane } });
    expect(answer.headers.get("x-request-id")).toMatch(UUID);
  }
  const errors = [
    await send(url, "GET", "/orders/nope/status", { headers: { "x-request-id": "err-1" } }),
    await send(url, "GET", "/no/such/route", { headers: { "x-request-id": "err-2" } }),
    await send(url, "POST", "/orders", { headers: { "x-request-id": "err-3" }, body: { user_id: 1 } }),
    await send(url, "DELETE", "/orders", { headers: { "x-request-id": "err-4" } }),
  ];
  expect(errors.map((answer) => answer.status)).toEqual([404, 404, 422, 405]);
  expect(errors.map((answer) => answer.headers.get("x-request-id"))).toEqual([
    "err-1",
    "err-2",
    "err-3",
    "err-4",
  ]);
});

/** The app on stub ports (no database), its log lines and the requests it reported. */
function stubApp(orders: Partial<OrderStore>, env: Record<string, string> = {}) {
  const lines: string[] = [];
  const responses: { route: string; status: number; requestId: string }[] = [];
  const log = (level: string, message: string, extra?: Record<string, unknown>) =>
    void lines.push(JSON.stringify({ level, message, ...extra }));
  const app = createApp({
    orders: {
      store: orders as OrderStore,
      now: Date.now,
      onOrderStored: () => {},
      onOrderRetried: () => {},
      defaultCurrency: "USD",
      maxAttempts: 5,
      feed: {} as EventFeed,
    },
    events: {} as EventDeps,
    webhooks: {} as WebhookDeps,
    dashboard: {} as Dashboard,
    system: {} as SystemDeps,
    http: {
      config: loadConfig(testEnv(env)),
      log,
      pendingOrders: () => 0,
      onResponse: (info) => void responses.push(info),
    },
    log,
  });
  const request = (path: string, init: RequestInit = {}) =>
    app.handle(new Request(`http://localhost${path}`, init));
  return { lines, responses, request };
}

test("an unexpected error is a 500 naming the request's id; the stack, SQL and paths stay in the log", async () => {
  const { lines, request } = stubApp({
    findOrderStatus: () =>
      Promise.reject(new Error("SQLiteError: no such column: x in SELECT x FROM orders at /data/orders.db")),
  });
  const response = await request("/orders/a/status", { headers: { "x-request-id": "boom-1" } });
  const text = await response.text();
  expect(response.status).toBe(500);
  expect(response.headers.get("x-request-id")).toBe("boom-1");
  expect(JSON.parse(text)).toEqual({
    error: {
      code: "INTERNAL_ERROR",
      message: "Something went wrong on our side",
      details: { request_id: "boom-1" },
    },
  });
  expect(text).not.toMatch(/SQLite|SELECT|\/data|at /);
  const logged = lines.find((line) => line.includes("unhandled error")) ?? "";
  expect(logged).toContain('"requestId":"boom-1"');
  expect(logged).toContain("SELECT x FROM orders");
});

test("a storage failure's own text reaches the log with the request id, never the client", async () => {
  // What the writer thread sends for an error it did not foresee (an SQLiteError on a bad disk).
  const failure = fromWireError(
    toWireError(new Error("SQLiteError: disk I/O error at /data/orders.db"), storageUnavailable),
  );
  const { lines, request } = stubApp({ createOrder: () => Promise.reject(failure) });
  const response = await request("/orders", {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": "disk-1" },
    body: JSON.stringify(order("o-1")),
  });
  const text = await response.text();
  expect(response.status).toBe(503);
  expect(JSON.parse(text).error.code).toBe("STORAGE_UNAVAILABLE");
  expect(text).not.toMatch(/SQLite|disk I\/O|\/data/);
  const logged = lines.find((line) => line.includes("storage unavailable")) ?? "";
  expect(logged).toContain('"requestId":"disk-1"');
  expect(logged).toContain("SQLiteError: disk I/O error");
});

test("onResponse gets the route template and the real status, a handler's own Response included", async () => {
  const { responses, request } = stubApp({
    listOrders: async () => [],
    findOrderStatus: async () => undefined,
  });
  await request("/orders?limit=5", { headers: { "x-request-id": "list-1" } }); // answered with a Response
  await request("/orders/abc/status");
  await request("/no/such/thing/42");
  await request("/orders?limit=0");
  await waitFor(() => responses.length === 4, { what: "four responses reported" }); // reported after the answer
  expect(responses.map(({ route, status }) => `${status} ${route}`)).toEqual([
    "200 /orders",
    "404 /orders/:order_id/status",
    "404 unmatched",
    "422 /orders",
  ]);
  expect(responses[0]?.requestId).toBe("list-1");
});

test("one access log line per request at info, with the id; the start warns once that keys are off", async () => {
  const service = await spawnService({ DATABASE_PATH: `${testEnv().DATABASE_PATH}` });
  await send(service.url, "POST", "/orders", { headers: { "x-request-id": "log-1" }, body: order("log-o1") });
  await send(service.url, "GET", "/orders/log-o1/status", { headers: { "x-request-id": "log-2" } });
  await send(service.url, "GET", "/orders?limit=1", { headers: { "x-request-id": "log-3" } });
  await send(service.url, "GET", "/secret/path/123", { headers: { "x-request-id": "log-4" } });
  const lines = await waitFor(() => {
    const found = service
      .output()
      .split("\n")
      .filter((line) => line.includes('"message":"request"') && /"requestId":"log-\d"/.test(line));
    return found.length >= 4 && found;
  });
  const entries = lines.map((line) => JSON.parse(line));
  expect(
    entries.map(({ method, route, status, requestId }) => `${method} ${route} ${status} ${requestId}`),
  ).toEqual([
    "POST /orders 201 log-1",
    "GET /orders/:order_id/status 200 log-2",
    "GET /orders 200 log-3",
    "GET unmatched 404 log-4",
  ]);
  for (const entry of entries) {
    expect(entry.level).toBe("info");
    expect(typeof entry.durationMs).toBe("number");
    expect(Date.parse(entry.time)).toBeGreaterThan(0);
  }
  expect(service.output()).not.toContain("/secret/path");
  expect(service.output().match(/API_KEYS is not set/g)?.length).toBe(1);
});

test("no access log at LOG_LEVEL=warn", async () => {
  const written = spyOn(console, "log");
  try {
    const { url } = await startService({ LOG_LEVEL: "warn", API_KEYS: KEY });
    for (let i = 0; i < 5; i++) await send(url, "GET", "/orders", { headers: bearer(KEY) });
    flushLogs();
    expect(written.mock.calls.filter(([line]) => String(line).includes('"message":"request"'))).toEqual([]);
  } finally {
    written.mockRestore();
  }
});

test("API keys: 401 with WWW-Authenticate without a right key; /health and /ready always open", async () => {
  const { url } = await startService({ API_KEYS: `${KEY},${OTHER_KEY}` });
  const routes: [string, string, unknown?][] = [
    ["GET", "/orders"],
    ["POST", "/orders", order("auth-1")],
    ["GET", "/orders/auth-1/status"],
    ["POST", "/orders/auth-1/cancel"],
  ];
  for (const [method, path, body] of routes) {
    for (const headers of [
      {} as Record<string, string>,
      bearer(WRONG_KEY),
      { "x-api-key": WRONG_KEY },
      { authorization: `Basic ${KEY}` },
    ]) {
      const answer = await send(url, method, path, { headers, body });
      expect(answer.status).toBe(401);
      expect(answer.headers.get("www-authenticate")).toBe("Bearer");
      expect(answer.body.error.code).toBe("UNAUTHORIZED");
    }
  }
  expect((await send(url, "POST", "/orders", { headers: bearer(KEY), body: order("auth-1") })).status).toBe(
    201,
  );
  expect(
    (await send(url, "GET", "/orders/auth-1/status", { headers: { "x-api-key": OTHER_KEY } })).status,
  ).toBe(200);
  expect(
    (await send(url, "GET", "/orders", { headers: { authorization: `bearer ${OTHER_KEY}` } })).status,
  ).toBe(200);
  // Unknown routes need a key too: they say nothing about what exists.
  expect((await send(url, "GET", "/no/such/route")).status).toBe(401);
  // Defaults: metrics and docs are public, the probes always are.
  for (const path of ["/health", "/ready", "/metrics", "/swagger", "/swagger/json", "/health/"]) {
    expect([path, (await send(url, "GET", path)).status]).toEqual([path, 200]);
  }
});

test("METRICS_PUBLIC=false and DOCS_PUBLIC=false put /metrics and /swagger/* behind the keys", async () => {
  const { url } = await startService({ API_KEYS: KEY, METRICS_PUBLIC: "false", DOCS_PUBLIC: "false" });
  for (const path of ["/metrics", "/swagger", "/swagger/json", "/swagger/"]) {
    expect([path, (await send(url, "GET", path)).status]).toEqual([path, 401]);
    expect([path, (await send(url, "GET", path, { headers: bearer(KEY) })).status]).toEqual([path, 200]);
    expect([path, (await send(url, "GET", path, { headers: { "x-api-key": KEY } })).status]).toEqual([
      path,
      200,
    ]);
  }
  for (const path of ["/health", "/ready"]) expect((await send(url, "GET", path)).status).toBe(200);
});

test("an open path in the URL does not open the route Elysia picks for an odd Host header", async () => {
  // Elysia looks for the path from the URL's 11th character on: with `Host: x`, /swagger/orders is
  // routed as /orders, and /orders/swagger/cancel's path reads /swagger/cancel.
  const { url } = await startService({ API_KEYS: KEY });
  for (const target of ["/swagger/orders", "/orders/swagger/cancel", "/orders/health", "/ab/health"]) {
    const method = target.endsWith("cancel") ? "POST" : "GET";
    const answer = await raw(url, `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect([target, answer.split("\r\n", 1)[0]]).toEqual([target, "HTTP/1.1 401 Unauthorized"]);
  }
});

test("keys are compared with timingSafeEqual and never written to the log, right or wrong", async () => {
  const compare = spyOn(crypto, "timingSafeEqual");
  try {
    const { url } = await startService({ API_KEYS: KEY });
    expect((await send(url, "GET", "/orders", { headers: bearer(KEY) })).status).toBe(200);
    expect(compare).toHaveBeenCalled();
  } finally {
    compare.mockRestore();
  }
  const service = await spawnService({ API_KEYS: KEY, DATABASE_PATH: testEnv().DATABASE_PATH as string });
  for (const headers of [bearer(KEY), bearer(WRONG_KEY), { "x-api-key": KEY }, { "x-api-key": WRONG_KEY }]) {
    await send(service.url, "GET", "/orders/x/status", { headers: { ...headers, "x-request-id": "keys" } });
    await send(service.url, "POST", "/orders", { headers, body: { bad: true } });
  }
  await waitFor(() => (service.output().match(/"requestId":"keys"/g)?.length ?? 0) >= 4);
  expect(service.output()).not.toContain("key-0123456789");
});

test("a start-up error over a bad key names its position, not the key", async () => {
  const proc = Bun.spawn(["bun", "src/main.ts"], {
    cwd: `${import.meta.dir}/..`,
    env: { ...process.env, ...testEnv(), API_KEYS: `${KEY},tooShort!x` },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await proc.exited).toBe(1);
  const output = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
  expect(output).toContain("API_KEYS: key 2 must be");
  expect(output).not.toContain("tooShort");
  expect(output).not.toContain(KEY);
});

test("rate limit: a burst past RATE_LIMIT_PER_S gets 429 with Retry-After and RateLimit-*, in the envelope", async () => {
  const { url } = await startService({ RATE_LIMIT_PER_S: "5" });
  const answers = await Promise.all(Array.from({ length: 20 }, () => send(url, "GET", "/metrics")));
  const refused = answers.filter((answer) => answer.status === 429);
  // Even if the burst straddles two one-second windows, at most 10 get through.
  expect(refused.length).toBeGreaterThanOrEqual(10);
  expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThanOrEqual(5);
  for (const answer of refused) {
    expect(answer.body.error.code).toBe("RATE_LIMITED");
    expect(answer.headers.get("retry-after")).toBe("1");
    expect(answer.headers.get("ratelimit-limit")).toBe("5");
    expect(answer.headers.get("ratelimit-remaining")).toBe("0");
    expect(answer.headers.get("ratelimit-reset")).toBe("1");
    expect(answer.headers.get("x-request-id")).toMatch(UUID);
  }
  expect(answers.find((answer) => answer.status === 200)?.headers.get("ratelimit-limit")).toBe("5");
  // Probes are never limited.
  const probes = await Promise.all(Array.from({ length: 20 }, () => send(url, "GET", "/health")));
  expect(probes.every((answer) => answer.status === 200)).toBe(true);
});

test("rate limit: the OpenAPI document declares the 429 every route but the probes may answer", async () => {
  const { url } = await startService({ RATE_LIMIT_PER_S: "2" });
  const doc = (await send(url, "GET", "/swagger/json")).body;
  expect(doc.paths["/health"].get.responses["429"]).toBeUndefined();
  expect(doc.paths["/ready"].get.responses["429"]).toBeUndefined();
  const declared = doc.paths["/orders"].post.responses["429"];
  expect(declared.headers["Retry-After"]).toBeDefined();
  const refused = (await Promise.all(Array.from({ length: 6 }, () => send(url, "GET", "/metrics")))).find(
    (answer) => answer.status === 429,
  );
  expect(declared.content["application/json"].examples.RATE_LIMITED.value).toEqual(refused?.body);
  // Without a limit, no route declares one.
  const { url: unlimited } = await startService();
  expect(
    (await send(unlimited, "GET", "/swagger/json")).body.paths["/orders"].post.responses["429"],
  ).toBeUndefined();
});

test("rate limit: each API key has its own budget", async () => {
  const { url } = await startService({ RATE_LIMIT_PER_S: "3", API_KEYS: `${KEY},${OTHER_KEY}` });
  const burst = (key: string) =>
    Promise.all(Array.from({ length: 10 }, () => send(url, "GET", "/metrics", { headers: bearer(key) })));
  const [first, second] = await Promise.all([burst(KEY), burst(OTHER_KEY)]);
  for (const answers of [first, second]) {
    const allowed = answers.filter((answer) => answer.status === 200).length;
    expect(allowed).toBeGreaterThanOrEqual(3);
    expect(allowed).toBeLessThanOrEqual(6);
  }
});

test("backpressure: past MAX_PENDING_ORDERS a new order is 503 OVERLOADED; replays, reads and cancels work", async () => {
  const { url } = await startService({
    MAX_PENDING_ORDERS: "5",
    WORKERS: "1",
    WORKER_CONCURRENCY: "1",
    PROCESSING_TIME_MS: "100",
  });
  const accepted: string[] = [];
  let refused: Answer | undefined;
  let refusedId = "";
  for (let i = 0; i < 200 && !refused; i++) {
    const id = `bp-${i}`;
    const answer = await send(url, "POST", "/orders", { body: order(id) });
    if (answer.status === 201) accepted.push(id);
    else if (answer.status === 503) [refused, refusedId] = [answer, id];
    else throw new Error(`unexpected ${answer.status}`);
    await Bun.sleep(5);
  }
  expect(refused?.body.error.code).toBe("OVERLOADED");
  expect(refused?.headers.get("retry-after")).toBe("1");
  expect((await send(url, "GET", `/orders/${refusedId}`)).status).toBe(404); // nothing stored
  const last = accepted.at(-1) as string;
  const first = accepted[0] as string;
  // Still over the bound: a replay answers 200, another payload 409, reads and a cancel work.
  expect((await send(url, "POST", "/orders", { body: order(refusedId) })).status).toBe(503);
  expect((await send(url, "POST", "/orders", { body: order(last) })).status).toBe(200);
  expect((await send(url, "POST", "/orders", { body: order(first) })).status).toBe(200);
  expect((await send(url, "POST", "/orders", { body: order(last, { total_amount: 1 }) })).status).toBe(409);
  expect((await send(url, "GET", `/orders/${last}/status`)).status).toBe(200);
  expect((await send(url, "GET", "/orders?limit=2")).status).toBe(200);
  const cancel = await send(url, "POST", `/orders/${last}/cancel`);
  expect([cancel.status, cancel.body.status]).toEqual([200, "cancelled"]);
  // Every order answered 201 ends: completed, or cancelled for the one cancelled.
  await waitFor(
    async () => {
      const statuses = await Promise.all(
        accepted.map(async (id) => (await send(url, "GET", `/orders/${id}/status`)).body.status),
      );
      return statuses.every((status, i) => status === (accepted[i] === last ? "cancelled" : "completed"));
    },
    { timeoutMs: 30_000, what: "every accepted order to complete" },
  );
  // With the backlog drained, new orders are taken again.
  await waitFor(async () => (await send(url, "POST", "/orders", { body: order(refusedId) })).status === 201);
});

test("backpressure: 60 concurrent new orders against MAX_PENDING_ORDERS=20 with nothing processed: exactly 20 taken", async () => {
  const { url, server } = await startService({ MAX_PENDING_ORDERS: "20", SHUTDOWN_TIMEOUT_MS: "0" });
  // Processing held: with the dispatcher stopped nothing leaves pending, so every order taken
  // stays in the backlog and the bound alone decides (with one worker slot, the order it claimed
  // would leave pending and, once counted, rightly make room for a 21st).
  await server.dispatcher.stop(0);
  const ids = Array.from({ length: 60 }, (_, i) => `burst-${i}`);
  const answers = await Promise.all(ids.map((id) => send(url, "POST", "/orders", { body: order(id) })));
  const accepted = ids.filter((_, i) => answers[i]?.status === 201);
  const refused = answers.filter((answer) => answer.status === 503);
  expect({ accepted: accepted.length, refused: refused.length }).toEqual({ accepted: 20, refused: 40 });
  for (const answer of refused) {
    expect(answer.body.error.code).toBe("OVERLOADED");
    expect(answer.headers.get("retry-after")).toBe("1");
  }
  expect((await send(url, "GET", "/metrics")).body.status_counts.pending).toBe(20);
  // Replays are not new orders: an accepted one answers 200 (409 with another payload), at the bound.
  for (const id of accepted)
    expect((await send(url, "POST", "/orders", { body: order(id) })).status).toBe(200);
  const first = accepted[0] as string;
  expect((await send(url, "POST", "/orders", { body: order(first, { total_amount: 1 }) })).status).toBe(409);
  // Once counted again (a read every 100 ms), the bound still holds: a new order is still refused.
  const refusedId = ids.find((id) => !accepted.includes(id)) as string;
  expect((await send(url, "GET", `/orders/${refusedId}`)).status).toBe(404); // nothing stored
  const started = Date.now();
  while (Date.now() - started < 300) {
    expect((await send(url, "POST", "/orders", { body: order(refusedId) })).status).toBe(503);
    await Bun.sleep(20);
  }
});

test("a body that trickles in slower than BODY_TIMEOUT_MS is cut with 408, in the envelope", async () => {
  const { url } = await startService({ BODY_TIMEOUT_MS: "300" });
  const body = JSON.stringify(order("slow-1"));
  let answer = "";
  let closed = false;
  const started = performance.now();
  const socket = await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port),
    socket: {
      data: (_socket, data) => {
        answer += data.toString();
      },
      close: () => {
        closed = true;
      },
    },
  });
  socket.write(
    `POST /orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nX-Request-Id: slow-1\r\n\r\n${body.slice(0, 5)}`,
  );
  for (let i = 5; i < body.length && !closed; i++) {
    await Bun.sleep(50);
    if (!closed) socket.write(body.charAt(i));
  }
  await waitFor(() => closed, { what: "the server to close the connection" });
  expect(performance.now() - started).toBeLessThan(2000);
  expect(answer.split("\r\n", 1)[0]).toBe("HTTP/1.1 408 Request Timeout");
  expect(answer.toLowerCase()).toContain("x-request-id: slow-1");
  expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).error.code).toBe("REQUEST_TIMEOUT");
  expect((await send(url, "GET", "/orders/slow-1")).status).toBe(404);
  // A body sent at once is unaffected.
  expect((await send(url, "POST", "/orders", { body: order("fast-1") })).status).toBe(201);
});

test("security headers on API answers: nosniff and no-store", async () => {
  const { url } = await startService({ API_KEYS: KEY });
  const answers = [
    await send(url, "GET", "/health"),
    await send(url, "GET", "/orders", { headers: bearer(KEY) }), // a Response of the handler's own
    await send(url, "POST", "/orders", { headers: bearer(KEY), body: order("sec-1") }),
    await send(url, "GET", "/orders/none", { headers: bearer(KEY) }),
    await send(url, "GET", "/orders"), // 401, answered before routing
    await send(url, "GET", "/metrics"),
  ];
  for (const answer of answers) {
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    expect(answer.headers.get("cache-control")).toBe("no-store");
  }
});

test("CORS is off by default: no preflight answer, no Access-Control headers", async () => {
  const { url } = await startService();
  const origin = "https://shop.example.com";
  const preflight = await send(url, "OPTIONS", "/orders", {
    headers: { origin, "access-control-request-method": "POST" },
  });
  expect(preflight.status).toBe(405);
  expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  expect(
    (await send(url, "GET", "/health", { headers: { origin } })).headers.get("access-control-allow-origin"),
  ).toBeNull();
});

test("CORS_ORIGINS: preflights answered for those origins only, never with credentials", async () => {
  const allowed = "https://shop.example.com";
  const { url } = await startService({ CORS_ORIGINS: `${allowed},http://localhost:5173`, API_KEYS: KEY });
  const preflight = (origin: string) =>
    send(url, "OPTIONS", "/orders", {
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, x-api-key",
      },
    });
  const ok = await preflight(allowed);
  expect(ok.status).toBe(204);
  expect(ok.headers.get("access-control-allow-origin")).toBe(allowed);
  expect(ok.headers.get("access-control-allow-methods")).toContain("POST");
  expect(ok.headers.get("access-control-allow-headers")).toContain("X-API-Key");
  expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
  expect(ok.headers.get("vary")).toContain("Origin");
  for (const origin of [
    "https://evil.example",
    "https://shop.example.com.evil.example",
    "constructor",
    "null",
  ]) {
    const refused = await preflight(origin);
    expect([origin, refused.status]).toEqual([origin, 401]); // not a preflight of ours: the key is missing
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  }
  const simple = await send(url, "GET", "/orders", { headers: { origin: allowed, ...bearer(KEY) } });
  expect(simple.headers.get("access-control-allow-origin")).toBe(allowed);
  expect(simple.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
  // Errors carry the CORS headers too, so a page can read them.
  const unauthorized = await send(url, "GET", "/orders", { headers: { origin: allowed } });
  expect([unauthorized.status, unauthorized.headers.get("access-control-allow-origin")]).toEqual([
    401,
    allowed,
  ]);
  const other = await send(url, "GET", "/health", { headers: { origin: "https://evil.example" } });
  expect(other.headers.get("access-control-allow-origin")).toBeNull();
});

test("CORS preflights name the methods of the path asked about: a browser can delete a subscription", async () => {
  const allowed = "https://shop.example.com";
  const { url } = await startService({ CORS_ORIGINS: allowed });
  const preflight = (path: string, method: string) =>
    send(url, "OPTIONS", path, { headers: { origin: allowed, "access-control-request-method": method } });
  const webhook = await preflight("/webhooks/wh_1", "DELETE");
  expect(webhook.status).toBe(204);
  expect(webhook.headers.get("access-control-allow-methods")?.split(", ")).toContain("DELETE");
  const orders = await preflight("/orders", "POST");
  expect(orders.headers.get("access-control-allow-methods")?.split(", ").sort()).toEqual(["GET", "POST"]);
  // The DELETE itself, as the browser then sends it, carries the origin's header.
  const deleted = await send(url, "DELETE", "/webhooks/wh_missing", { headers: { origin: allowed } });
  expect([deleted.status, deleted.headers.get("access-control-allow-origin")]).toEqual([404, allowed]);
});

test("CORS preflights count against RATE_LIMIT_PER_S like any request of the client", async () => {
  const allowed = "https://shop.example.com";
  const { url } = await startService({ CORS_ORIGINS: allowed, RATE_LIMIT_PER_S: "5" });
  const statuses: number[] = [];
  for (let i = 0; i < 15; i++) {
    const answer = await send(url, "OPTIONS", "/orders", {
      headers: { origin: allowed, "access-control-request-method": "POST" },
    });
    statuses.push(answer.status);
  }
  expect(statuses.filter((s) => s === 204).length).toBeLessThanOrEqual(6);
  expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(9);
});
