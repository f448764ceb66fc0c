/**
 * Durability and lifecycle of the real process (`bun src/main.ts` as a child): kill -9 mid-processing
 * loses nothing, SIGTERM shuts down cleanly, bad configuration exits 1.
 */
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { call, cleanup, metrics, order, spawnService, tempDir, waitFor } from "./helpers.ts";

afterEach(cleanup);

function countByStatus(dbPath: string): Record<string, number> {
  const db = new Database(dbPath, { readonly: true });
  const rows = db.query("select status, count(*) as n from orders group by status").all() as {
    status: string;
    n: number;
  }[];
  db.close();
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

test("kill -9 mid-processing loses no accepted order, and every order completes after restart", async () => {
  const dbPath = join(tempDir(), "orders.db");
  const first = await spawnService({ DATABASE_PATH: dbPath, PROCESSING_TIME_MS: "20" });
  const ids = Array.from({ length: 500 }, (_, i) => `crash-${i}`);
  const accepted: string[] = [];
  await Promise.all(
    ids.map(async (id) => {
      const res = await call(first.url, "POST", "/orders", order(id));
      if (res.status === 201) accepted.push(id);
    }),
  );
  expect(accepted).toHaveLength(500);
  await waitFor(async () => {
    const { completed, processing } = (await metrics(first.url)).status_counts;
    return completed >= 50 && processing > 0;
  });
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  const atCrash = countByStatus(dbPath);
  expect(atCrash.processing).toBeGreaterThan(0);
  expect(Object.values(atCrash).reduce((a, b) => a + b, 0)).toBe(500);

  const second = await spawnService({ DATABASE_PATH: dbPath, PROCESSING_TIME_MS: "0" });
  await waitFor(async () => (await metrics(second.url)).status_counts.completed === 500);
  expect(second.output()).toContain("took up orders a previous process left processing");
  for (const id of accepted) {
    expect((await call(second.url, "GET", `/orders/${id}/status`)).body.status).toBe("completed");
  }
});

test("SIGTERM stops accepting, lets workers finish their orders, and exits 0", async () => {
  const dbPath = join(tempDir(), "orders.db");
  const service = await spawnService({
    DATABASE_PATH: dbPath,
    PROCESSING_TIME_MS: "300",
    WORKERS: "1",
    WORKER_CONCURRENCY: "2",
  });
  for (let i = 0; i < 6; i++) await call(service.url, "POST", "/orders", order(`term-${i}`));
  await waitFor(async () => (await metrics(service.url)).status_counts.processing === 2);
  service.proc.kill("SIGTERM");
  expect(await service.proc.exited).toBe(0);
  expect(service.output()).toContain("stopped cleanly");
  // The two in hand were finished; the rest wait, pending, for the next start.
  expect(countByStatus(dbPath)).toEqual({ completed: 2, pending: 4 });
  await expect(fetch(new URL("/health", service.url))).rejects.toThrow();
});

test("SIGTERM with orders still running past SHUTDOWN_TIMEOUT_MS returns them to pending", async () => {
  const dbPath = join(tempDir(), "orders.db");
  const service = await spawnService({
    DATABASE_PATH: dbPath,
    PROCESSING_TIME_MS: "60000",
    SHUTDOWN_TIMEOUT_MS: "200",
  });
  for (let i = 0; i < 3; i++) await call(service.url, "POST", "/orders", order(`slow-${i}`));
  await waitFor(async () => (await metrics(service.url)).status_counts.processing === 3);
  const started = Date.now();
  service.proc.kill("SIGTERM");
  expect(await service.proc.exited).toBe(0);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(countByStatus(dbPath)).toEqual({ pending: 3 });

  const restarted = await spawnService({ DATABASE_PATH: dbPath, PROCESSING_TIME_MS: "0" });
  await waitFor(async () => (await metrics(restarted.url)).status_counts.completed === 3);
});

test("starts on a database whose folder does not exist yet, as the quick start does", async () => {
  const dbPath = join(tempDir(), "data", "nested", "orders.db");
  const service = await spawnService({ DATABASE_PATH: dbPath });
  expect((await call(service.url, "POST", "/orders", order("fresh-1"))).status).toBe(201);
});

test("a bad setting exits 1 with a message naming the variable", async () => {
  for (const [name, value] of [
    ["WORKERS", "0"],
    ["PORT", "http"],
    ["SQLITE_SYNCHRONOUS", "SOMETIMES"],
    ["PROCESSING_FAILURE_RATE", "2"],
  ]) {
    const proc = Bun.spawn(["bun", "src/main.ts"], {
      cwd: join(import.meta.dir, ".."),
      env: { ...process.env, DATABASE_PATH: join(tempDir(), "o.db"), [name as string]: value as string },
      stderr: "pipe",
      stdout: "pipe",
    });
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stderr).text()).toContain(name as string);
  }
});
