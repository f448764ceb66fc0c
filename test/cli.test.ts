/**
 * The operator's CLI (`bun src/cli.ts`, issue 23's first step) as real processes: check-config
 * says ok or names the variable; migrate brings a new database to the current schema, is safe to
 * run again, and on SQLite refuses while a service has the file open; bad commands and options
 * are exit 2 with the usage. On PostgreSQL too when TEST_DATABASE_URL is set. backup is in
 * backup.test.ts, retry-failed and redeliver-dead in cli-queue.test.ts.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import pg from "pg";
import {
  call,
  cleanup,
  cli,
  freshPostgresDatabase,
  order,
  spawnService,
  startupError,
  tempDir,
  waitFor,
} from "./helpers.ts";

afterEach(cleanup);

const ROOT = join(import.meta.dir, "..");
const JOURNAL = join(ROOT, "drizzle/meta/_journal.json");
const PG_JOURNAL = join(ROOT, "drizzle/postgres/meta/_journal.json");

/** How many migrations the journal at `path` lists. */
const migrationsIn = async (path: string) =>
  ((await Bun.file(path).json()) as { entries: unknown[] }).entries.length;

describe("check-config", () => {
  test("a good environment: exit 0 and where the service would store its orders", async () => {
    const path = join(tempDir(), "orders.db");
    const { code, stdout } = await cli(["check-config"], { DATABASE_PATH: path, PORT: "3100" });
    expect(code).toBe(0);
    expect(stdout).toBe(`configuration ok: SQLite at ${path}, port 3100\n`);
  });

  test("behind a transaction pooler: where the wake-ups come from, passwords never shown", async () => {
    const pooled = {
      DATABASE_URL: "postgres://app:secret@pgbouncer:6432/orders",
      PG_PREPARED_STATEMENTS: "false",
    };
    const polling = await cli(["check-config"], pooled);
    expect(polling.stdout).toBe(
      "configuration ok: PostgreSQL at postgres://app:***@pgbouncer:6432/orders (statements unprepared; " +
        "no LISTEN: other replicas' news by polling), port 3000\n",
    );
    const direct = await cli(["check-config"], {
      ...pooled,
      DATABASE_DIRECT_URL: "postgres://app:secret@db/orders",
    });
    expect(direct.stdout).toContain("(statements unprepared; LISTEN at postgres://app:***@db/orders)");
  });

  test("a wrong variable: exit 1, one JSON line naming it", async () => {
    const { code, stdout, stderr } = await cli(["check-config"], { MAX_ATTEMPTS: "0" });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(startupError(stderr).setting).toBe("MAX_ATTEMPTS");
  });
});

describe("migrate on SQLite", () => {
  test("a new file gets every migration, a second run changes nothing, and a service starts on it", async () => {
    const path = join(tempDir(), "deploy", "orders.db");
    const first = await cli(["migrate"], { DATABASE_PATH: path });
    expect(first).toEqual({ code: 0, stdout: `migrations applied: ${path}\n`, stderr: "" });
    const applied = () => {
      const db = new Database(path, { readonly: true });
      const { n } = db.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number };
      const columns = db.query("PRAGMA table_info(orders)").all() as { name: string }[];
      db.close();
      return { n, columns: columns.map((c) => c.name) };
    };
    const after = applied();
    expect(after.n).toBe(await migrationsIn(JOURNAL));
    expect(after.columns).toContain("cancel_requested_at");
    expect((await cli(["migrate"], { DATABASE_PATH: path })).code).toBe(0);
    expect(applied().n).toBe(after.n);
    // The service starts on the migrated file and takes an order.
    const service = await spawnService({ DATABASE_PATH: path, PROCESSING_TIME_MS: "0" });
    expect((await call(service.url, "POST", "/orders", order("cli-1"))).status).toBe(201);
    // While it runs, migrate refuses and names the setting: the service migrated the file itself.
    const busy = await cli(["migrate"], { DATABASE_PATH: path });
    expect(busy.code).toBe(1);
    const error = startupError(busy.stderr);
    expect(error.setting).toBe("DATABASE_PATH");
    expect(error.message).toContain("in use by a running order service");
    await waitFor(
      async () => (await call(service.url, "GET", "/orders/cli-1/status")).body.status === "completed",
    );
  });

  test("a path it cannot use: exit 1 naming DATABASE_PATH", async () => {
    const { code, stderr } = await cli(["migrate"], { DATABASE_PATH: tempDir() });
    expect(code).toBe(1);
    expect(startupError(stderr).setting).toBe("DATABASE_PATH");
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)("migrate on PostgreSQL", () => {
  test("a new database gets every migration; a second run beside a running replica changes nothing", async () => {
    const url = await freshPostgresDatabase();
    expect(await cli(["migrate"], { DATABASE_URL: url })).toMatchObject({ code: 0, stderr: "" });
    const count = async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query("SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations");
      await client.end();
      return rows[0].n as number;
    };
    expect(await count()).toBe(await migrationsIn(PG_JOURNAL));
    const replica = await spawnService({ DATABASE_URL: url, PROCESSING_TIME_MS: "0" });
    expect((await cli(["migrate"], { DATABASE_URL: url })).code).toBe(0);
    expect(await count()).toBe(await migrationsIn(PG_JOURNAL));
    expect((await call(replica.url, "POST", "/orders", order("cli-pg-1"))).status).toBe(201);
  });

  test("a server that is not there: exit 1 naming DATABASE_URL, without the password", async () => {
    const { code, stderr } = await cli(["migrate"], { DATABASE_URL: "postgres://u:secret@127.0.0.1:1/none" });
    expect(code).toBe(1);
    expect(startupError(stderr).setting).toBe("DATABASE_URL");
    expect(stderr).not.toContain("secret");
  });
});

/** Posts the orders to `url` and waits until each is completed. */
async function completeOrders(url: URL, ids: string[]) {
  for (const id of ids) expect((await call(url, "POST", "/orders", order(id))).status).toBe(201);
  for (const id of ids)
    await waitFor(async () => (await call(url, "GET", `/orders/${id}/status`)).body.status === "completed");
}

/** The count `prune` printed for `table`. */
const prunedOf = (stdout: string, table: string) =>
  Number(new RegExp(`^pruned (\\d+) ${table}`, "m").exec(stdout)?.[1]);

// 0.86 s: what the orders recorded before a short wait are older than.
const TINY_DAYS = "0.00001";

describe("prune", () => {
  test("SQLite: refused while a service has the file; once stopped, one pass with the environment's retentions", async () => {
    const path = join(tempDir(), "orders.db");
    const service = await spawnService({ DATABASE_PATH: path, PROCESSING_TIME_MS: "0" });
    await completeOrders(service.url, ["pr-1", "pr-2", "pr-3"]);
    const busy = await cli(["prune"], { DATABASE_PATH: path });
    expect(busy.code).toBe(1);
    expect(startupError(busy.stderr).setting).toBe("DATABASE_PATH");
    service.proc.kill("SIGTERM");
    await service.proc.exited;
    await Bun.sleep(1000);
    const { code, stdout } = await cli(["prune"], { DATABASE_PATH: path, EVENT_RETENTION_DAYS: TINY_DAYS });
    expect(code).toBe(0);
    // Nine events, the newest kept; orders kept without ORDER_RETENTION_DAYS.
    expect(prunedOf(stdout, "events")).toBe(8);
    expect(prunedOf(stdout, "orders")).toBe(0);
    expect(stdout).toContain("ORDER_RETENTION_DAYS unset");
    const db = new Database(path, { readonly: true });
    const { events, orders } = db
      .query("SELECT (SELECT count(*) FROM order_events) AS events, (SELECT count(*) FROM orders) AS orders")
      .get() as { events: number; orders: number };
    db.close();
    expect({ events, orders }).toEqual({ events: 1, orders: 3 });
  });

  test.skipIf(!process.env.TEST_DATABASE_URL)(
    "PostgreSQL: beside a running replica, events and finished orders go as the environment says",
    async () => {
      const url = await freshPostgresDatabase();
      const replica = await spawnService({ DATABASE_URL: url, PROCESSING_TIME_MS: "0" });
      await completeOrders(replica.url, ["pp-1", "pp-2", "pp-3"]);
      await Bun.sleep(1000);
      const { code, stdout } = await cli(["prune"], {
        DATABASE_URL: url,
        EVENT_RETENTION_DAYS: TINY_DAYS,
        ORDER_RETENTION_DAYS: TINY_DAYS,
      });
      expect(code).toBe(0);
      expect(prunedOf(stdout, "events")).toBe(8);
      // The order with the newest event keeps it, and so stays.
      expect(prunedOf(stdout, "orders")).toBe(2);
      expect((await call(replica.url, "GET", "/orders/pp-1")).status).toBe(404);
      expect((await call(replica.url, "GET", "/orders/pp-3")).body.status).toBe("completed");
    },
  );
});

describe("bad commands and options", () => {
  test("--help is the usage on stdout, exit 0", async () => {
    for (const args of [["--help"], ["migrate", "--help"], ["backup", "--help"], ["retry-failed", "-h"]]) {
      const { code, stdout } = await cli(args);
      expect(code).toBe(0);
      for (const command of [
        "check-config",
        "migrate",
        "backup <file>",
        "prune",
        "retry-failed",
        "redeliver-dead",
      ])
        expect(stdout).toContain(command);
    }
  });

  test("no command, an unknown one, or an argument a command does not take: exit 2 with the usage", async () => {
    for (const args of [
      [],
      ["drop-everything"],
      ["migrate", "--force"],
      ["check-config", "extra"],
      ["prune", "now"],
    ]) {
      const { code, stdout, stderr } = await cli(args);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toContain("usage: bun run cli <command>");
    }
  });
});
