/**
 * One service per database file and per port, on the real process (`bun src/main.ts` as a child):
 * a second service pointed at a running one's database or port exits 1 with one JSON line naming
 * the setting, touches none of the first one's orders and takes none of its traffic; a kill -9
 * leaves no stale lock behind.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FileLockedError, lockFile } from "../src/db/sqlite/file-lock.ts";
import {
  call,
  cleanup,
  metrics,
  order,
  queryDatabase,
  spawnService,
  startupError,
  tempDir,
  waitFor,
} from "./helpers.ts";

const ROOT = join(import.meta.dir, "..");
const TEST_TIMEOUT_MS = 60_000;

/** Children started by `runToExit`, killed after each test if still running. */
const children: ReturnType<typeof Bun.spawn>[] = [];

afterEach(async () => {
  for (const proc of children.splice(0)) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await proc.exited;
  }
  await cleanup();
});

/**
 * Runs `bun src/main.ts` with `env` (PORT as given, not forced to 0) and waits for it to exit. It is
 * expected to refuse to start: if it logs that it listens, or is still running after `timeoutMs`,
 * it is killed and this throws.
 */
async function runToExit(
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bun", "src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  children.push(proc);
  let stdout = "";
  let stderr = "";
  const collect = async (stream: ReadableStream<Uint8Array>, append: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) append(decoder.decode(chunk, { stream: true }));
  };
  const drained = Promise.all([
    collect(proc.stdout as ReadableStream<Uint8Array>, (text) => {
      stdout += text;
    }),
    collect(proc.stderr as ReadableStream<Uint8Array>, (text) => {
      stderr += text;
    }),
  ]);
  const started = waitFor(
    () => proc.exitCode !== null || stdout.includes('"message":"order service listening"'),
    {
      timeoutMs,
      what: "the second service to exit",
    },
  ).catch(() => undefined);
  await Promise.race([proc.exited, started]);
  if (proc.exitCode === null) {
    proc.kill("SIGKILL");
    await proc.exited;
    await drained;
    throw new Error(
      `the second service started (or was still running after ${timeoutMs} ms) instead of refusing to; ` +
        `stdout: ${stdout}; stderr: ${stderr}`,
    );
  }
  await drained;
  return { code: proc.exitCode, stdout, stderr };
}

/**
 * Asserts `stderr` is JSON lines (warnings may come first) with exactly one error line, for
 * `setting`, and no stack trace or Bun banner; returns it.
 */
function expectOneStartupLine(
  stderr: string,
  setting: string,
): { level: string; message: string; setting: string } {
  const line = startupError(stderr);
  expect(line.setting).toBe(setting);
  expect(line.message).toStartWith("cannot start: ");
  return line;
}

test(
  "a second service on the same database file refuses to start and leaves the first one's orders alone",
  async () => {
    const dbPath = join(tempDir(), "orders.db");
    const first = await spawnService({
      DATABASE_PATH: dbPath,
      PROCESSING_TIME_MS: "1500",
      PROCESSING_FAILURE_RATE: "0",
      WORKERS: "1",
      WORKER_CONCURRENCY: "4",
    });
    const ids = Array.from({ length: 8 }, (_, i) => `single-db-${i}`);
    for (const id of ids) expect((await call(first.url, "POST", "/orders", order(id))).status).toBe(201);
    await waitFor(async () => (await metrics(first.url)).status_counts.processing > 0, {
      what: "the first service to be processing orders",
    });

    // The second one starts while the first holds orders in `processing`: were it to open the
    // database, it would release them (its start-up takes up any processing order as a dead one's).
    const second = await runToExit({
      DATABASE_PATH: dbPath,
      PORT: "0",
      PROCESSING_TIME_MS: "0",
      RETRY_BASE_MS: "1",
    });
    expect(second.code).toBe(1);
    const line = expectOneStartupLine(second.stderr, "DATABASE_PATH");
    expect(line.message).toContain(dbPath);
    expect(line.message).toContain("in use by another running order service");
    expect(second.stdout).not.toContain("order service listening");

    // The first one still holds the lock: the second one's failed attempt released nothing.
    expect(() => lockFile(dbPath)).toThrow(FileLockedError);
    expect(first.proc.exitCode).toBeNull();

    await waitFor(async () => (await metrics(first.url)).status_counts.completed === ids.length, {
      what: "every order of the first service to complete",
    });
    for (const id of ids) {
      const { status, body } = await call(first.url, "GET", `/orders/${id}`);
      expect(status).toBe(200);
      expect({ id, status: body.status, attempts: body.attempts }).toEqual({
        id,
        status: "completed",
        attempts: 1,
      });
    }
    expect(first.output()).not.toContain("took up orders a previous process left processing");
  },
  TEST_TIMEOUT_MS,
);

test(
  "after kill -9 the lock is gone at once",
  async () => {
    const dbPath = join(tempDir(), "orders.db");
    const first = await spawnService({ DATABASE_PATH: dbPath, PROCESSING_TIME_MS: "60000" });
    expect((await call(first.url, "POST", "/orders", order("killed-1"))).status).toBe(201);
    await waitFor(async () => (await metrics(first.url)).status_counts.processing === 1, {
      what: "the order to be processing",
    });
    first.proc.kill("SIGKILL");
    await first.proc.exited;

    // The lock file stays behind, but the lock on it died with the process.
    expect(existsSync(`${dbPath}.lock`)).toBe(true);
    const probe = lockFile(dbPath);
    probe.release();

    const restarted = await spawnService({ DATABASE_PATH: dbPath, PROCESSING_TIME_MS: "0" });
    await waitFor(async () => (await metrics(restarted.url)).status_counts.completed === 1, {
      what: "the order to complete after the restart",
    });
    const { body } = await call(restarted.url, "GET", "/orders/killed-1");
    expect(body.status).toBe("completed");
    expect(restarted.output()).toContain("took up orders a previous process left processing");
  },
  TEST_TIMEOUT_MS,
);

test(
  "a port already in use exits 1 with a clear JSON line, never shared",
  async () => {
    const first = await spawnService({ DATABASE_PATH: join(tempDir(), "orders.db") });
    const port = first.url.port;
    expect(port).not.toBe("");
    const otherDbPath = join(tempDir(), "other.db");

    // Orders are posted to the port for as long as the second service is alive, then 20 more.
    let secondRunning = true;
    let posted = 0;
    const during = (async () => {
      while (secondRunning) {
        const res = await call(first.url, "POST", "/orders", order(`during-${posted}`));
        expect(res.status).toBe(201);
        posted++;
      }
    })();
    const second = await runToExit({
      DATABASE_PATH: otherDbPath,
      PORT: port,
      PROCESSING_TIME_MS: "0",
    }).finally(() => {
      secondRunning = false;
    });
    await during;

    expect(second.code).toBe(1);
    const line = expectOneStartupLine(second.stderr, "PORT");
    expect(line.message).toBe(`cannot start: port ${port} on 127.0.0.1 is already in use`);
    expect(second.stdout).not.toContain("order service listening");

    expect((await call(first.url, "GET", "/health")).status).toBe(200);
    for (let i = 0; i < 20; i++) {
      expect((await call(first.url, "POST", "/orders", order(`after-${i}`))).status).toBe(201);
    }
    // Every order posted to the port is in the first service's database, none in the second's.
    expect((await metrics(first.url)).total_orders).toBe(posted + 20);
    if (existsSync(otherDbPath)) {
      expect(queryDatabase<{ n: number }>(otherDbPath, "select count(*) as n from orders")).toEqual([
        { n: 0 },
      ]);
    }
    expect(first.proc.exitCode).toBeNull();
  },
  TEST_TIMEOUT_MS,
);
