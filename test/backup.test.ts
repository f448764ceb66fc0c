/**
 * `bun src/cli.ts backup <file>` as real processes (issue 23, item 2). On SQLite, 20 rounds: a
 * service takes orders from clients posting without pause, the CLI backs its file up, the service
 * is killed with SIGKILL, and a new one starts on a copy of the backup: every order answered 201
 * before the backup began is in it, integrity_check says ok, and the orders pending in it are
 * processed. Each round's new service is the next round's service under load. The stall of intake
 * during a backup is measured and printed (not asserted: the machine is shared). On PostgreSQL
 * (TEST_DATABASE_URL): pg_dump, pg_restore into a fresh database, a service on it.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findPostgresProgram } from "../src/db/postgres/backup.ts";
import {
  call,
  cleanup,
  cli,
  freshPostgresDatabase,
  order,
  queryDatabase,
  spawnService,
  startupError,
  tempDir,
  waitFor,
} from "./helpers.ts";

afterEach(cleanup);

// Processing slower than intake, so every backup holds orders still pending.
const SERVICE = { PROCESSING_TIME_MS: "5", WORKERS: "1", WORKER_CONCURRENCY: "4", LEASE_MS: "1000" };

/** Clients posting orders without pause to `url`; each 201 with when it arrived (performance.now()). */
function traffic(url: URL, prefix: string, clients = 4) {
  const accepted: { id: string; at: number }[] = [];
  let running = true;
  let next = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const id = `${prefix}-${next++}`;
      const answer = await call(url, "POST", "/orders", order(id, { user_id: prefix }));
      if (answer.status === 201) accepted.push({ id, at: performance.now() });
    }
  });
  const stop = async () => {
    running = false;
    await Promise.all(loops);
  };
  return { accepted, stop };
}

/** The longest pause between two consecutive 201s that overlaps [from, to], and the longest outside it. */
function gaps(arrivals: number[], from: number, to: number) {
  let during = 0;
  let outside = 0;
  for (let i = 1; i < arrivals.length; i++) {
    const [a, b] = [arrivals[i - 1] as number, arrivals[i] as number];
    if (b > from && a < to) during = Math.max(during, b - a);
    else outside = Math.max(outside, b - a);
  }
  return { during, outside };
}

const ORDERS_LINE = /^backup of (.+) written to (.+): (\d+) bytes, (\d+) orders, integrity_check ok\n$/;

test("SQLite, 20 rounds: backup under load, kill -9, start on the backup: nothing answered before it is lost", async () => {
  const dir = tempDir();
  let path = join(dir, "orders-0.db");
  let service = await spawnService({ DATABASE_PATH: path, ...SERVICE });
  const stalls: { during: number; outside: number; backupMs: number }[] = [];
  let pendingSeen = 0;
  for (let round = 0; round < 20; round++) {
    const load = traffic(service.url, `r${round}`);
    await waitFor(() => load.accepted.length >= 100, { what: "orders before the backup" });
    const target = join(dir, `backup-${round}.db`);
    const began = performance.now();
    const backup = await cli(["backup", target], { DATABASE_PATH: path });
    const ended = performance.now();
    const count = load.accepted.length;
    await waitFor(() => load.accepted.length >= count + 50, { what: "orders after the backup" });
    await load.stop();
    service.proc.kill("SIGKILL");
    await service.proc.exited;
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    const [, , written, , orders] = ORDERS_LINE.exec(backup.stdout) ?? [];
    expect(written).toBe(target);

    const ids = new Set(
      queryDatabase<{ order_id: string }>(target, "SELECT order_id FROM orders").map((r) => r.order_id),
    );
    expect(Number(orders)).toBe(ids.size);
    const missing = load.accepted.filter((a) => a.at < began && !ids.has(a.id)).map((a) => a.id);
    expect(missing).toEqual([]);
    expect(queryDatabase(target, "PRAGMA integrity_check")).toEqual([{ integrity_check: "ok" }]);
    const pending = queryDatabase<{ order_id: string }>(
      target,
      "SELECT order_id FROM orders WHERE status IN ('pending', 'processing')",
    ).map((r) => r.order_id);
    pendingSeen += pending.length;
    stalls.push({
      ...gaps(
        load.accepted.map((a) => a.at),
        began,
        ended,
      ),
      backupMs: ended - began,
    });

    // Restore as docs/OPERATING.md says: the backup becomes the database file of a new service.
    path = join(dir, `orders-${round + 1}.db`);
    copyFileSync(target, path);
    service = await spawnService({ DATABASE_PATH: path, ...SERVICE });
    const quoted = pending.map((id) => `'${id}'`).join(",");
    await waitFor(
      () =>
        queryDatabase<{ n: number }>(
          path,
          `SELECT count(*) AS n FROM orders WHERE status = 'completed' AND order_id IN (${quoted})`,
        )[0]?.n === pending.length,
      { what: `the ${pending.length} orders pending in backup ${round} to complete` },
    );
    expect((await call(service.url, "GET", `/orders/${load.accepted[0]?.id}`)).status).toBe(200);
  }
  expect(pendingSeen).toBeGreaterThan(0);
  const max = (key: "during" | "outside" | "backupMs") => Math.max(...stalls.map((s) => s[key])).toFixed(1);
  const median = (key: "during" | "outside") =>
    (stalls.map((s) => s[key]).sort((a, b) => a - b)[Math.floor(stalls.length / 2)] ?? 0).toFixed(1);
  console.log(
    `backup under load, 20 rounds: longest gap between 201s overlapping a backup: max ${max("during")} ms, ` +
      `median ${median("during")} ms; outside: max ${max("outside")} ms, median ${median("outside")} ms; ` +
      `backup command (process start to exit) up to ${max("backupMs")} ms; ${pendingSeen} orders pending in the backups`,
  );
}, 120_000);

describe("backup's arguments and refusals", () => {
  test("no file, or two: exit 2 with the usage", async () => {
    for (const args of [["backup"], ["backup", "a.db", "b.db"], ["backup", "--force", "a.db"]]) {
      const { code, stderr } = await cli(args, { DATABASE_PATH: join(tempDir(), "orders.db") });
      expect(code).toBe(2);
      expect(stderr).toContain("usage: bun run cli <command>");
    }
  });

  test("a file that exists is never overwritten: exit 1 naming it", async () => {
    const dir = tempDir();
    const path = join(dir, "orders.db");
    expect((await cli(["migrate"], { DATABASE_PATH: path })).code).toBe(0);
    const target = join(dir, "keep.db");
    writeFileSync(target, "an earlier backup");
    const { code, stdout, stderr } = await cli(["backup", target], { DATABASE_PATH: path });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(JSON.parse(stderr).message).toBe(`${target} already exists; a backup never overwrites a file`);
    expect(readFileSync(target, "utf8")).toBe("an earlier backup");
  });

  test("no database at DATABASE_PATH: exit 1 naming it, and no file left behind", async () => {
    const dir = tempDir();
    const { code, stderr } = await cli(["backup", join(dir, "b.db")], {
      DATABASE_PATH: join(dir, "none.db"),
    });
    expect(code).toBe(1);
    expect(startupError(stderr).setting).toBe("DATABASE_PATH");
    expect(await Bun.file(join(dir, "b.db")).exists()).toBe(false);
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)("backup on PostgreSQL", () => {
  test("pg_dump under load, kill -9, pg_restore into a fresh database: every order answered before is there and processed", async () => {
    const url = await freshPostgresDatabase();
    const service = await spawnService({ DATABASE_URL: url, ...SERVICE });
    const load = traffic(service.url, "pg");
    await waitFor(() => load.accepted.length >= 100, { what: "orders before the backup" });
    const target = join(tempDir(), "orders.dump");
    const began = performance.now();
    const backup = await cli(["backup", target], { DATABASE_URL: url });
    await load.stop();
    service.proc.kill("SIGKILL");
    await service.proc.exited;
    expect(backup.stderr).toBe("");
    expect(backup.stdout).toMatch(/^backup of postgres:\/\/.+ written to .+orders\.dump: \d+ bytes\n$/);
    // An existing file is refused on PostgreSQL too.
    expect((await cli(["backup", target], { DATABASE_URL: url })).code).toBe(1);

    const restored = await freshPostgresDatabase();
    const pgRestore = findPostgresProgram("pg_restore") as string;
    const restore = Bun.spawnSync([pgRestore, "--no-owner", `--dbname=${restored}`, target]);
    expect(restore.stderr.toString()).toBe("");
    expect(restore.exitCode).toBe(0);
    const revived = await spawnService({ DATABASE_URL: restored, ...SERVICE, PROCESSING_TIME_MS: "0" });
    const before = load.accepted.filter((a) => a.at < began);
    for (const { id } of before) expect((await call(revived.url, "GET", `/orders/${id}`)).status).toBe(200);
    await waitFor(
      async () => {
        const counts = (await call(revived.url, "GET", "/metrics")).body.status_counts;
        return counts.pending + counts.processing === 0 && counts.completed >= before.length;
      },
      { what: "the restored database's pending orders to complete" },
    );
  });
});
