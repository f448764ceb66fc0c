/**
 * The PostgreSQL adapter through PgBouncer 1.18 in transaction mode (TEST_PGBOUNCER_URL, in front
 * of the TEST_DATABASE_URL server; .ci/run starts one with scripts/pgbouncer.sh): with prepared
 * statements off the storage contract passes unchanged; replicas starting at once migrate once,
 * under the transaction-scoped lock, and leave no lock behind; with DATABASE_DIRECT_URL a replica
 * hears the others' new orders (LISTEN there, NOTIFY through the pooler); and with prepared
 * statements on, the pooler breaks the start, the failure the setting is for. The service-level
 * suites run through it too (.ci/run). Skips in one line without TEST_PGBOUNCER_URL.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { openPostgresStorage } from "../src/db/postgres/storage.ts";
import * as lifecycle from "../src/lifecycle.ts";
import type { NewOrder } from "../src/records/order.ts";
import type { Storage } from "../src/storage.ts";
import { cleanup, freshPostgresDatabase, PGBOUNCER_URL, postgresEnv } from "./helpers.ts";
import { describeStorageContract } from "./storage-contract.ts";
import { describeRetentionContract } from "./storage-contract-retention.ts";

const quiet = { log: () => {} };

/** A fresh database: its direct URL and the same database through PgBouncer. */
async function freshDatabase(): Promise<{ direct: string; pooled: string }> {
  const direct = await freshPostgresDatabase();
  return { direct, pooled: postgresEnv(direct).DATABASE_URL as string };
}

/** Rows of `sql` on `url`, on a connection of its own. */
async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const order = (orderId: string): NewOrder => ({
  orderId,
  userId: "user_1",
  itemIds: ["item_1"],
  currency: "USD",
  totalMinor: 100,
  cart: null,
  createdAt: 1_700_000_000_000,
});

if (!PGBOUNCER_URL || !process.env.TEST_DATABASE_URL) {
  describe("through PgBouncer", () => {
    console.log("PgBouncer suite skipped: set TEST_PGBOUNCER_URL (and TEST_DATABASE_URL; .ci/run does)");
    test.skip("needs TEST_PGBOUNCER_URL", () => {});
  });
} else {
  const openPooled = async (): Promise<Storage> => {
    const { pooled } = await freshDatabase();
    const storage = await openPostgresStorage({ url: pooled, preparedStatements: false }, quiet);
    return {
      ...storage,
      close: async () => {
        await storage.close();
        await cleanup(); // drops the database, and with it PgBouncer's server connections to it
      },
    };
  };
  describeStorageContract("postgres through PgBouncer, prepared statements off", openPooled);
  // Retention's batches take a transaction-scoped lock: they work through the pooler too.
  describeRetentionContract("postgres through PgBouncer, prepared statements off", openPooled);

  describe("through PgBouncer in transaction mode", () => {
    const opened: Storage[] = [];
    afterEach(async () => {
      for (const storage of opened.splice(0)) await storage.close();
      await cleanup();
    });

    test("three replicas starting at once migrate once, and no advisory lock outlives the start", async () => {
      const { direct, pooled } = await freshDatabase();
      const storages = await Promise.all(
        Array.from({ length: 3 }, () =>
          openPostgresStorage({ url: pooled, preparedStatements: false }, quiet),
        ),
      );
      opened.push(...storages);
      const journal = JSON.parse(
        readFileSync(join(import.meta.dir, "../drizzle/postgres/meta/_journal.json"), "utf8"),
      );
      const [applied] = await query<{ n: string }>(
        direct,
        "SELECT count(*) AS n FROM drizzle.__drizzle_migrations",
      );
      expect(Number(applied?.n)).toBe(journal.entries.length);
      // A session lock taken and released in two statements could be left on a pooled server
      // connection, and the next start would wait for it forever.
      const locks = await query(direct, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory'");
      expect(locks).toEqual([]);
      // A fourth start, the migrations already applied.
      opened.push(await openPostgresStorage({ url: pooled, preparedStatements: false }, quiet));
    });

    test("with DATABASE_DIRECT_URL, another replica's new orders wake the queue: LISTEN direct, NOTIFY pooled", async () => {
      const { direct, pooled } = await freshDatabase();
      // Named, so that the server tells the direct connection from PgBouncer's.
      const directUrl = `${direct}?application_name=direct`;
      const listening = await openPostgresStorage(
        { url: pooled, preparedStatements: false, directUrl },
        quiet,
      );
      const other = await openPostgresStorage({ url: pooled, preparedStatements: false }, quiet);
      opened.push(listening, other);
      let woken = 0;
      const unsubscribe = listening.queue.subscribe(() => woken++);
      // LISTEN starts in the background: create orders until one is heard.
      let created = 0;
      const deadline = Date.now() + 5000;
      while (woken === 0) {
        if (Date.now() > deadline) throw new Error("no wake-up within 5 s");
        await other.orders.createOrder(order(`o${created++}`), lifecycle.created());
        await Bun.sleep(10);
      }
      const listens = await query<{ application_name: string }>(
        direct,
        "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
      );
      unsubscribe();
      expect(listens).toEqual([{ application_name: "direct" }]);
    });

    test("with prepared statements on (the default), the service cannot start through it", async () => {
      const { pooled } = await freshDatabase();
      // The first start may already fail (its own connections share server connections); a second
      // one meets the statements the first prepared on every server connection it used.
      let failure: Error | undefined;
      for (let i = 0; i < 2 && !failure; i++) {
        try {
          opened.push(await openPostgresStorage({ url: pooled }, quiet));
        } catch (error) {
          failure = error as Error;
        }
      }
      expect(failure?.message).toMatch(/prepared statement "\w+" (already exists|does not exist)/);
    });
  });
}
