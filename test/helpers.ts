/**
 * Test helpers: real services on real SQLite files in temp folders, with real worker threads,
 * spoken to over real HTTP. Waits are on conditions with a deadline, never fixed sleeps.
 */
import { Database } from "bun:sqlite";
import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type Config, loadConfig } from "../src/config.ts";
import { createLogger } from "../src/kit/logger.ts";
import type { OrderStatus } from "../src/records/order.ts";
import { createServer, type Server } from "../src/server.ts";

const ROOT = join(import.meta.dir, "..");
const cleanups: (() => void | Promise<void>)[] = [];

/** A fresh temp folder, removed by `cleanup`. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "orders-test-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Environment for a test service: fast processing, quiet logs, a temp database, any port. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_PATH: join(tempDir(), "orders.db"),
    PROCESSING_TIME_MS: "0",
    RETRY_BASE_MS: "1",
    LOG_LEVEL: "silent",
    ...overrides,
  };
}

/** A started in-process service and its base URL. */
export type TestService = { server: Server; url: URL; config: Config };

/**
 * Whether the in-process services of this run use PostgreSQL: `TEST_STORAGE=postgres` with
 * `TEST_DATABASE_URL` (.ci/run runs the API and queue suites again this way).
 */
export const ON_POSTGRES = process.env.TEST_STORAGE === "postgres" && Boolean(process.env.TEST_DATABASE_URL);

/** A new, empty database on the TEST_DATABASE_URL server, dropped by `cleanup`; its URL. */
export async function freshPostgresDatabase(): Promise<string> {
  const adminUrl = process.env.TEST_DATABASE_URL as string;
  const name = `orders_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  cleanups.push(async () => {
    const dropper = new pg.Client({ connectionString: adminUrl });
    await dropper.connect();
    await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await dropper.end();
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/**
 * PgBouncer in transaction mode in front of the TEST_DATABASE_URL server, when TEST_PGBOUNCER_URL
 * names it (.ci/run starts one, scripts/pgbouncer.sh): the services of the run then connect through it.
 */
export const PGBOUNCER_URL = process.env.TEST_PGBOUNCER_URL;

/**
 * A service's database settings for the database at `url` (on the TEST_DATABASE_URL server):
 * `url` itself, or with PGBOUNCER_URL the same database through PgBouncer without prepared
 * statements, polling for the other replicas' news, or, with `listen`, LISTENing on `url` given as
 * DATABASE_DIRECT_URL.
 */
export function postgresEnv(url: string, { listen = false } = {}): Record<string, string> {
  if (!PGBOUNCER_URL) return { DATABASE_URL: url };
  const pooled = new URL(url);
  const bouncer = new URL(PGBOUNCER_URL);
  pooled.host = bouncer.host;
  return {
    DATABASE_URL: pooled.href,
    PG_PREPARED_STATEMENTS: "false",
    ...(listen ? { DATABASE_DIRECT_URL: url } : {}),
  };
}

/**
 * Starts a real service in this process (real database, real worker threads, real port): a
 * SQLite file in a temp folder, or a fresh PostgreSQL database when ON_POSTGRES (through
 * PgBouncer when PGBOUNCER_URL is set).
 */
export async function startService(overrides: Record<string, string> = {}): Promise<TestService> {
  const database: Record<string, string> = ON_POSTGRES ? postgresEnv(await freshPostgresDatabase()) : {};
  const config = loadConfig(testEnv({ ...database, ...overrides }));
  const server = await createServer(config, createLogger(config.logLevel), {
    onFatal: (reason) => {
      throw new Error(`the service under test failed: ${reason}`);
    },
  });
  const url = await server.start();
  let stopped = false;
  const stop = server.stop.bind(server);
  server.stop = async () => {
    if (stopped) return;
    stopped = true;
    await stop();
  };
  cleanups.push(() => server.stop());
  return { server, url, config };
}

/** Stops every service and removes every temp folder made since the last call. */
export async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

/** A JSON request; returns the status, parsed body and headers. */
export async function call(
  base: URL,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(new URL(path, base), {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

/** A valid order body; fields can be overridden. */
export function order(orderId: string, overrides: Record<string, unknown> = {}) {
  return {
    user_id: "user_123",
    order_id: orderId,
    item_ids: ["item_1", "item_2"],
    total_amount: 150.99,
    ...overrides,
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 15_000, what = "condition" } = {},
): Promise<Exclude<T, false | null | undefined | 0 | "">> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | null | undefined | 0 | "">;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/**
 * Runs a query on the database behind an in-process service, on a connection of its own: `sql.sqlite`
 * on its SQLite file, `sql.postgres` on its PostgreSQL database (numbers cast to come back as numbers).
 */
export async function queryService<T>(
  config: Config,
  sql: { sqlite: string; postgres: string },
): Promise<T[]> {
  if (!config.databaseUrl) return queryDatabase<T>(config.databasePath, sql.sqlite);
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql.postgres)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Runs `sql` on a read-only connection of its own to a service's SQLite file. */
export function queryDatabase<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.query(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** Metrics of a service. */
export async function metrics(base: URL) {
  return (await call(base, "GET", "/metrics")).body as {
    total_orders: number;
    average_processing_time: number;
    status_counts: Record<OrderStatus, number>;
  };
}

/** A service running as a child process (`bun src/main.ts`), for crash and signal tests. */
export type ChildService = { proc: ReturnType<typeof Bun.spawn>; url: URL; output: () => string };

/** Starts `bun src/main.ts` with `env` on a port of the OS's choosing and waits until it answers /health. */
export async function spawnService(env: Record<string, string>): Promise<ChildService> {
  const proc = Bun.spawn(["bun", "src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, HOST: "127.0.0.1", ...env, PORT: "0", LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += new TextDecoder().decode(chunk);
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  cleanups.push(() => {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  });
  // The service logs the URL it listens on; PORT=0 lets the OS pick a free port.
  const url = await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`service exited ${proc.exitCode}: ${output}`);
      const match = output.match(/"message":"order service listening","url":"([^"]+)"/);
      return match?.[1] ? new URL(match[1]) : undefined;
    },
    { what: "the child service to listen" },
  );
  return { proc, url, output: () => output };
}

/**
 * Runs the operator's CLI (`bun src/cli.ts`) with `args`, the test's environment without
 * DATABASE_URL, and `env`; its exit code and output.
 */
export async function cli(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(["bun", "src/cli.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: "", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/**
 * The one error line a service that cannot start logs: its stderr must be JSON lines only (a
 * warning may come first), with exactly one error and no stack trace or Bun banner.
 */
export function startupError(stderr: string): { level: string; message: string; setting: string } {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/^error:/im);
  const lines = stderr
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
  const errors = lines.filter((line) => line.level === "error");
  expect(errors).toHaveLength(1);
  return errors[0];
}
