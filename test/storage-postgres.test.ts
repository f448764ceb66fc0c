/**
 * The storage contract on the PostgreSQL adapter, against a real server: a fresh database per test;
 * then what only PostgreSQL has: concurrent transactions on the event stream, and the wake-ups
 * between replicas sharing a database. Runs when TEST_DATABASE_URL names a server the tests may
 * create databases on (.ci/run starts one); otherwise it says so in one line and skips.
 */
import { afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { settleAndClaim } from "../src/db/postgres/pump.ts";
import * as q from "../src/db/postgres/queue-sql.ts";
import { openPostgresStorage } from "../src/db/postgres/storage.ts";
import * as w from "../src/db/postgres/webhook-sql.ts";
import * as lifecycle from "../src/lifecycle.ts";
import type { NewOrder } from "../src/records/order.ts";
import type { Storage } from "../src/storage.ts";
import { ORDER_BEFORE_LINE_ITEMS } from "./fixtures/order-before-line-items.ts";
import { wants } from "./fixtures/queue-records.ts";
import { describeStorageContract } from "./storage-contract.ts";
import { describeRetentionContract } from "./storage-contract-retention.ts";

const CREATED = lifecycle.created();

const ADMIN_URL = process.env.TEST_DATABASE_URL;

/** A new, empty database on the test server; returns its URL and a function that drops it. */
async function freshDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `orders_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => {
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

if (ADMIN_URL) {
  const openFresh = async (): Promise<Storage> => {
    const { url, drop } = await freshDatabase(ADMIN_URL);
    const storage = await openPostgresStorage({ url }, { log: () => {} });
    return {
      ...storage,
      close: async () => {
        await storage.close();
        await drop();
      },
    };
  };
  describeRetentionContract("postgres", openFresh);
  describeStorageContract("postgres", openFresh);

  describe("postgres adapter", () => {
    const T0 = 1_700_000_000_000;
    const order = (orderId: string): NewOrder => ({
      orderId,
      userId: "user_1",
      itemIds: ["item_1"],
      currency: "USD",
      totalMinor: 100,
      cart: null,
      createdAt: T0,
    });
    const streamOf = async (storage: Storage, after = 0) =>
      (await storage.events.readEvents({ after, limit: 100 })).map((e) => `${e.orderId}:${e.type}`);
    /** Polls `condition` every 10 ms until it holds; fails after 5 s. */
    async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
      const deadline = Date.now() + 5000;
      while (!(await condition())) {
        if (Date.now() > deadline) throw new Error("condition not met within 5 s");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    let database: Awaited<ReturnType<typeof freshDatabase>>;
    let storage: Storage;
    let raw: pg.Client;
    beforeEach(async () => {
      database = await freshDatabase(ADMIN_URL);
      storage = await openPostgresStorage({ url: database.url }, { log: () => {} });
      raw = new pg.Client({ connectionString: database.url });
      await raw.connect();
    });
    afterEach(async () => {
      await raw.end();
      await storage.close();
      await database.drop();
    });

    test("one replica prunes at a time: while another holds the pruning lock, a batch deletes nothing and says busy", async () => {
      await storage.orders.createOrder(order("a"), CREATED);
      await storage.orders.createOrder({ ...order("b"), createdAt: T0 + 1 }, CREATED);
      const batch = { before: T0 + 60_000, after: 0, limit: 100 };
      // Another replica's pass, as the adapter takes it (transaction-scoped, src/db/postgres/retention.ts).
      await raw.query("BEGIN");
      expect((await raw.query("SELECT pg_try_advisory_xact_lock(4201131) AS held")).rows[0].held).toBe(true);
      expect(await storage.retention.pruneEvents(batch)).toEqual({ deleted: 0, busy: true });
      await raw.query("COMMIT");
      expect(await storage.retention.pruneEvents(batch)).toEqual({ deleted: 1 });
    });

    test("an event committed after a later-numbered one is not skipped: the later one waits", async () => {
      await storage.orders.createOrder(order("a"), CREATED);
      const [a] = await storage.events.readEvents({ after: 0, limit: 10 });
      await raw.query("BEGIN");
      await raw.query(q.insertOrders([{ order: order("slow"), created: CREATED }]));
      await storage.orders.createOrder(order("b"), CREATED);
      // b committed with a higher seq than slow's, which is not committed yet: b is held back.
      expect(await streamOf(storage)).toEqual(["a:created"]);
      expect(await storage.events.latestEventSeq()).toBe(a?.seq ?? -1);
      await raw.query("COMMIT");
      expect(await streamOf(storage, a?.seq)).toEqual(["slow:created", "b:created"]);
    });

    test("a claim in a transaction older than the order's creation still comes after it", async () => {
      await raw.query("BEGIN");
      await raw.query("SELECT pg_current_xact_id()");
      await storage.orders.createOrder(order("c"), CREATED);
      // A pump that only claims, for worker w1.
      await raw.query(
        q.pump({
          settlements: [],
          claims: wants("w1", 1),
          now: T0 + 10,
          leaseUntil: T0 + 30_000,
        }),
      );
      await raw.query("COMMIT");
      expect(await streamOf(storage)).toEqual(["c:created", "c:claimed"]);
    });

    test("a pump whose follow-up read fails still hands over the orders it claimed", async () => {
      await storage.orders.createOrder(order("claimed-then-read-fails"), CREATED);
      const pool = new pg.Pool({ connectionString: database.url, max: 2 });
      // The pump commits its claims; the read after it (when the next order falls due) fails.
      const query = pool.query.bind(pool);
      spyOn(pool, "query").mockImplementation(((config: pg.QueryConfig) =>
        config.name === "next_due" ? Promise.reject(new Error("connection reset")) : query(config)) as never);
      try {
        const result = await settleAndClaim(
          pool,
          {
            settlements: [],
            // More requests than orders: the claim comes up short, so the next due time is read.
            claims: wants("w1", 10),
            now: T0 + 10,
            leaseUntil: T0 + 30_000,
          },
          5000,
        );
        expect(result.claimed.map((o) => o.orderId)).toEqual(["claimed-then-read-fails"]);
        // Unknown: the dispatcher looks again within its idle interval.
        expect(result.nextDueAt).toBeNull();
      } finally {
        await pool.end();
      }
    });

    test("a start that cannot open every pooled connection fails with a clear error, not a hang", async () => {
      // A role allowed 3 connections, owning a database of its own: the migrations pass (they need
      // two), filling the pool of 16 does not.
      const role = `orders_limited_${Math.random().toString(36).slice(2, 8)}`;
      await raw.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 3`);
      await raw.query(`CREATE DATABASE ${role} OWNER ${role}`);
      const url = new URL(database.url);
      url.username = role;
      url.pathname = `/${role}`;
      try {
        const started = Date.now();
        const failure = await openPostgresStorage({ url: url.href }, { log: () => {} }).then(
          (other) => other.close().then(() => undefined),
          (error: Error) => error,
        );
        expect(failure?.message).toContain("too many connections");
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        await raw.query(`DROP DATABASE IF EXISTS ${role} WITH (FORCE)`);
        await raw.query(`DROP ROLE ${role}`);
      }
    });

    test("the webhook claim reads each subscription off its own index, even where one seems to hold every row", async () => {
      // One subscription's backlog is the oldest and nearly every row, and the statistics say so (as
      // ANALYZE may conclude of a large outbox). With a plain equality on the subscription, the
      // planner read the due index in order and filtered it: that backlog, for every other one.
      await raw.query(`INSERT INTO webhooks (id, url, secret, created_at)
        SELECT id, 'https://example.com/' || id, 'whsec', now() FROM unnest(ARRAY['slow', 'a', 'b']) id`);
      const insert = `INSERT INTO webhook_deliveries (webhook_id, event_seq, status, next_attempt_at, created_at)
        SELECT $1::text, g, 'pending', to_timestamp(g), now() FROM generate_series($2::int, $3::int) g`;
      await raw.query(insert, ["slow", 1, 2000]);
      for (const id of ["a", "b"]) await raw.query(insert, [id, 3000, 3004]);
      await raw.query("ALTER TABLE webhook_deliveries ALTER COLUMN webhook_id SET (n_distinct = 1)");
      await raw.query("ANALYZE webhook_deliveries");
      const claim = w.claimDeliveries({
        owner: "s",
        limit: 64,
        now: T0,
        leaseUntil: T0 + 1000,
        perSubscription: { limit: 8, held: { slow: 8 } },
      });
      const values = (claim.values ?? []).map((value) => raw.escapeLiteral(String(value))).join(", ");
      await raw.query(`PREPARE claim AS ${claim.text}`);
      // As its first runs plan it, and as a generic plan may after five.
      for (const mode of ["force_custom_plan", "force_generic_plan"]) {
        await raw.query(`SET plan_cache_mode = ${mode}`);
        const plan = (await raw.query(`EXPLAIN EXECUTE claim(${values})`)).rows
          .map((row) => row["QUERY PLAN"])
          .join("\n");
        expect(plan).toContain("Index Scan using webhook_deliveries_subscription_due_idx");
        expect(plan).not.toContain("webhook_deliveries_due_idx");
      }
    });

    test("another replica's writes wake event subscribers; only new orders wake the queue", async () => {
      const other = await openPostgresStorage({ url: database.url }, { log: () => {} });
      let events = 0;
      let queue = 0;
      const unsubscribe = [storage.events.subscribe(() => events++), storage.queue.subscribe(() => queue++)];
      // LISTEN starts in the background: create orders until both channels are heard.
      let created = 0;
      await until(async () => {
        await other.orders.createOrder(order(`o${created++}`), CREATED);
        return events > 0 && queue > 0;
      });
      await other.close();
      // Notifications arrive in commit order: once this one is heard, no earlier one is in flight.
      const heard = events;
      await raw.query("SELECT pg_notify('order_service_events', '')");
      await until(() => events > heard);
      events = 0;
      queue = 0;
      const third = await openPostgresStorage({ url: database.url }, { log: () => {} });
      await third.orders.changeOrder("o0", { transition: lifecycle.cancelled() }, T0);
      await until(() => events > 0);
      expect(queue).toBe(0);
      await third.close();
      for (const stop of unsubscribe) stop();
    });
  });
} else {
  describe("storage contract: postgres", () => {
    console.log(
      "PostgreSQL suites skipped: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:55432/postgres)",
    );
    test.skip("needs TEST_DATABASE_URL", () => {});
  });
}

if (ADMIN_URL) {
  test("a database of the release before line items keeps every field of its orders: USD, unpriced", async () => {
    const { url, drop } = await freshDatabase(ADMIN_URL);
    // drizzle/postgres with its first 11 migrations (0000-0010): the last release with money as cents.
    const folder = mkdtempSync(join(tmpdir(), "pg-migrations-"));
    const migrations = join(import.meta.dir, "../drizzle/postgres");
    cpSync(migrations, folder, { recursive: true });
    const journalPath = join(folder, "meta", "_journal.json");
    const journal = JSON.parse(readFileSync(journalPath, "utf8"));
    journal.entries = journal.entries.slice(0, 11);
    writeFileSync(journalPath, JSON.stringify(journal));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await migrate(drizzle({ client }), { migrationsFolder: folder });
      await client.query(
        `INSERT INTO orders (order_id, user_id, item_ids, total_cents, status, created_at, started_at, completed_at,
           attempts, last_error, run_at)
         VALUES ('old-1', 'u-1', '["a","b"]', 15099, 'completed', to_timestamp(1), to_timestamp(1.01),
           to_timestamp(1.02), 2, 'first try timed out', to_timestamp(1))`,
      );
      const storage = await openPostgresStorage({ url }, { log: () => {} });
      try {
        expect(await storage.orders.findOrder("old-1")).toEqual(ORDER_BEFORE_LINE_ITEMS);
      } finally {
        await storage.close();
      }
    } finally {
      await client.end();
      rmSync(folder, { recursive: true, force: true });
      await drop();
    }
  });
}
