/** Hostile input and hostile clients, against the real process (`bun src/main.ts`) over real HTTP. */
import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { call, cleanup, order, spawnService, startupError, tempDir, waitFor } from "./helpers.ts";

afterEach(cleanup);

const ROOT = join(import.meta.dir, "..");

/** A request with a raw body (text or bytes) sent as JSON; returns status, headers, text and parsed JSON. */
async function send(base: URL, method: string, path: string, body?: string | Uint8Array) {
  const response = await fetch(new URL(path, base), {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body,
  });
  const text = await response.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, text, json };
}

/** Asserts the error envelope with `code`, and that the error names `field` (message or details). */
function expectError(body: any, code: string, field?: string) {
  expect(body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  if (field) expect(JSON.stringify(body.error)).toContain(field);
}

/** The process's exit code, or null if it is still running after `ms`. */
async function exitWithin(proc: { exited: Promise<number> }, ms: number): Promise<number | null> {
  return Promise.race([proc.exited, Bun.sleep(ms).then(() => null)]);
}

test("an array nested 5,000 deep answers a fast JSON 422 naming item_ids, also in production", async () => {
  const nested = `${"[".repeat(5000)}${"]".repeat(5000)}`;
  const body = `{"user_id":"u","order_id":"d","item_ids":${nested},"total_amount":1}`;
  for (const env of [{}, { NODE_ENV: "production" }] as Record<string, string>[]) {
    const service = await spawnService({ DATABASE_PATH: join(tempDir(), "orders.db"), ...env });
    const started = performance.now();
    const res = await send(service.url, "POST", "/orders", body);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res.status).toBeOneOf([400, 422]);
    expect(res.headers.get("content-type")).toContain("application/json");
    expectError(res.json, res.status === 422 ? "VALIDATION_FAILED" : "INVALID_JSON", "item_ids");
    expect((await call(service.url, "GET", "/health")).status).toBe(200);
  }
}, 30_000);

test("SIGTERM closes a slow client's unfinished request at SHUTDOWN_TIMEOUT_MS instead of waiting for it", async () => {
  const service = await spawnService({
    DATABASE_PATH: join(tempDir(), "orders.db"),
    SHUTDOWN_TIMEOUT_MS: "1000",
  });
  let closed = false;
  const socket = await Bun.connect({
    hostname: service.url.hostname,
    port: Number(service.url.port),
    socket: {
      data() {},
      close() {
        closed = true;
      },
      error() {
        closed = true;
      },
    },
  });
  const head = `POST /orders HTTP/1.1\r\nHost: ${service.url.host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
  socket.write(`${head}{"user_id"`); // 10 of the 100 bytes promised, and then nothing
  // A round trip on another connection, so the service has read the slow request before the signal.
  expect((await call(service.url, "GET", "/health")).status).toBe(200);
  expect(closed).toBe(false);

  const started = performance.now();
  service.proc.kill("SIGTERM");
  const code = await exitWithin(service.proc, 1000 + 2000);
  const took = performance.now() - started;
  expect(code).toBe(0);
  expect(took).toBeLessThan(3000);
  await waitFor(() => closed, { timeoutMs: 1000, what: "the slow socket to be closed" });
}, 15_000);

/** Runs `bun src/main.ts` on `databasePath` until it exits (or fails the test after 15 s or if it listens). */
async function startExpectingFailure(databasePath: string) {
  const proc = Bun.spawn(["bun", "src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", DATABASE_PATH: databasePath, LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { stdout: "", stderr: "" };
  const collect = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    for await (const chunk of stream) out[key] += new TextDecoder().decode(chunk);
  };
  const drained = Promise.all([collect(proc.stdout, "stdout"), collect(proc.stderr, "stderr")]);
  try {
    await waitFor(() => proc.exitCode !== null || out.stdout.includes("order service listening"), {
      what: `the service on ${databasePath} to exit`,
    });
  } finally {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  }
  expect(out.stdout).not.toContain("order service listening");
  await drained;
  return { code: await proc.exited, ...out };
}

test("a DATABASE_PATH that cannot be a database exits 1 with one JSON line naming it, no stack trace", async () => {
  const garbage = join(tempDir(), "garbage.db");
  writeFileSync(garbage, crypto.getRandomValues(new Uint8Array(4096)));
  const cases = [tempDir(), garbage, "/dev/null/orders.db", join(tempDir(), "o".repeat(300))];
  await Promise.all(
    cases.map(async (path) => {
      const { code, stdout, stderr } = await startExpectingFailure(path);
      expect(code).toBe(1);
      const logged = startupError(stderr);
      expect(logged.setting).toBe("DATABASE_PATH");
      expect(logged.message).toContain(path);
      expect(stdout).not.toMatch(/^\s+at /m);
    }),
  );
}, 30_000);

test("text that is not text is refused: invalid UTF-8, lone surrogates, control characters", async () => {
  const { url } = await spawnService({ DATABASE_PATH: join(tempDir(), "orders.db") });
  const json = (id: string, fields: Record<string, unknown>) => JSON.stringify(order(id, fields));

  const utf8 = (text: string) => [...new TextEncoder().encode(text)];
  const rest = '","order_id":"bad-utf8","item_ids":["i"],"total_amount":1}';
  const bytes = new Uint8Array([...utf8('{"user_id":"ab'), 0xff, ...utf8(`cd${rest}`)]);
  const invalid = await send(url, "POST", "/orders", bytes);
  expect(invalid.status).toBe(400);
  expectError(invalid.json, "INVALID_JSON");
  expect((await call(url, "GET", "/orders/bad-utf8")).status).toBe(404);

  const surrogate = json("lone-surrogate", { user_id: "x" }).replace('"x"', '"x\\ud800"');
  for (const attempt of [1, 2]) {
    const res = await send(url, "POST", "/orders", surrogate);
    expect({ attempt, status: res.status }).toEqual({ attempt, status: 422 });
    expectError(res.json, "VALIDATION_FAILED", "user_id");
  }

  const controlItem = await send(url, "POST", "/orders", json("control-item", { item_ids: ["a\u0001b"] }));
  expect(controlItem.status).toBe(422);
  expect(controlItem.json.error.details).toContainEqual(expect.objectContaining({ field: "item_ids.0" }));
  const controlUser = await send(url, "POST", "/orders", json("control-user", { user_id: "a\u0001b" }));
  expect(controlUser.status).toBe(422);
  expectError(controlUser.json, "VALIDATION_FAILED", "user_id");

  expect((await call(url, "POST", "/orders", order("unicode", { user_id: "Zoë 😀" }))).status).toBe(201);
  expect((await call(url, "GET", "/orders/unicode")).body.user_id).toBe("Zoë 😀");
}, 30_000);

test("query strings are strict: non-decimal limit, repeated status, undecodable escapes", async () => {
  const { url } = await spawnService({ DATABASE_PATH: join(tempDir(), "orders.db") });
  for (const [query, status, code, field] of [
    ["limit=1e2", 422, "VALIDATION_FAILED", "limit"],
    ["limit=0x10", 422, "VALIDATION_FAILED", "limit"],
    ["status=pending&status=failed", 422, "VALIDATION_FAILED", "status"],
    ["user_id=%FF", 400, "INVALID_QUERY", undefined],
  ] as const) {
    const res = await send(url, "GET", `/orders?${query}`);
    expect({ query, status: res.status }).toEqual({ query, status });
    expectError(res.json, code, field);
  }
  expect((await call(url, "GET", "/orders?limit=10")).status).toBe(200);
}, 30_000);

test("wrong methods answer 405 with Allow, unknown paths 404, and long ids are not echoed in full", async () => {
  const { url } = await spawnService({ DATABASE_PATH: join(tempDir(), "orders.db") });
  const deleteAll = await send(url, "DELETE", "/orders");
  expect(deleteAll.status).toBe(405);
  expectError(deleteAll.json, "METHOD_NOT_ALLOWED");
  expect(deleteAll.headers.get("allow")?.split(/,\s*/).sort()).toEqual(
    expect.arrayContaining(["GET", "POST"]),
  );

  const putCancel = await send(url, "PUT", "/orders/x/cancel");
  expect(putCancel.status).toBe(405);
  expectError(putCancel.json, "METHOD_NOT_ALLOWED");
  expect(putCancel.headers.get("allow")).toBe("POST");

  const unknown = await send(url, "GET", "/no-such-path");
  expect(unknown.status).toBe(404);
  expectError(unknown.json, "ROUTE_NOT_FOUND");

  const longId = await send(url, "GET", `/orders/${"a".repeat(5000)}`);
  expect(longId.status).toBe(404);
  expectError(longId.json, "ORDER_NOT_FOUND");
  expect(new TextEncoder().encode(longId.text).length).toBeLessThan(500);
}, 30_000);
