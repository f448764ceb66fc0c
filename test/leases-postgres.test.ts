/**
 * Leases on PostgreSQL under pressure (issue 18): the queue statements that lock several orders
 * (pump, renewal, rescue, release) take them in one order and never deadlock; a lease tick that
 * overruns is skipped; a claim this replica no longer holds is not started, and an attempt whose
 * claim is lost mid-way is aborted; a statement the client abandoned does not keep its locks on the
 * server. Runs when TEST_DATABASE_URL is set (.ci/run starts a server); skips in one line otherwise.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { openPostgresStorage } from "../src/db/postgres/storage.ts";
import { created } from "../src/lifecycle.ts";
import { Dispatcher } from "../src/queue/dispatcher.ts";
import { ignoreQueue } from "../src/queue/observer.ts";
import type { QueueStore } from "../src/queue/store.ts";
import { WorkerPool } from "../src/queue/worker-pool.ts";
import type { NewOrder, Order } from "../src/records/order.ts";
import type { Settlement } from "../src/records/queue.ts";
import type { Storage } from "../src/storage.ts";
import { LEASE_EXPIRED, settlement, WORKER_STOPPED, wants } from "./fixtures/queue-records.ts";
import { cleanup, freshPostgresDatabase, tempDir, waitFor } from "./helpers.ts";

const CREATED = created();

const ADMIN_URL = process.env.TEST_DATABASE_URL;

afterEach(cleanup);

const newOrder = (orderId: string): NewOrder => ({
  orderId,
  userId: "user_1",
  itemIds: ["item_1"],
  currency: "USD",
  totalMinor: 100,
  cart: null,
  createdAt: Date.now(),
});

/** `items` in a random order. */
function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** A storage on `url` whose failures are collected in `errors`. */
async function openReplica(url: string, errors: string[], queueDeadlineMs = 5000): Promise<Storage> {
  return openPostgresStorage(
    { url, queueDeadlineMs },
    { log: (message, error) => errors.push(`${message}: ${error}`) },
  );
}

const JOURNAL_MODULE = join(import.meta.dir, "fixtures", "process-order-journal.ts");

/**
 * A dispatcher with one real worker thread (four slots) running the journal fixture on `queue`;
 * stopped by `cleanup`. Returns it, what its observer counted, and the journal's lines.
 */
function startDispatcher(queue: QueueStore, leaseMs: number) {
  const journal = join(tempDir(), "journal");
  writeFileSync(journal, "");
  process.env.ORDER_JOURNAL = journal;
  const counted = { skipped: 0, lost: 0 };
  const workers = new WorkerPool(
    {
      size: 1,
      processing: { processingTimeMs: 0, failureRate: 0, timeoutMs: 60_000, module: JOURNAL_MODULE },
    },
    () => {},
  );
  const dispatcher = new Dispatcher({
    queue,
    workers,
    now: Date.now,
    concurrency: 4,
    maxAttempts: 3,
    retryBaseMs: 1,
    leaseMs,
    processingTimeoutMs: 60_000,
    log: () => {},
    observer: {
      ...ignoreQueue,
      leaseTickSkipped: () => counted.skipped++,
      claimLost: () => counted.lost++,
    },
  });
  dispatcher.start();
  return {
    dispatcher,
    counted,
    lines: () => readFileSync(journal, "utf8").split("\n").filter(Boolean),
    stop: () => dispatcher.stop(0),
  };
}

/** A client on `url`, ended by the caller. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

if (ADMIN_URL) {
  describe("postgres leases", () => {
    test("pumps, renewals, rescues and releases of two replicas run together for 4 s without a deadlock", async () => {
      const url = await freshPostgresDatabase();
      const errors: string[] = [];
      const replicas = [await openReplica(url, errors), await openReplica(url, errors)];
      try {
        const [first] = replicas as [Storage];
        await Promise.all(
          Array.from({ length: 2000 }, (_, i) => first.orders.createOrder(newOrder(`o${i}`), CREATED)),
        );
        const stopAt = Date.now() + 4000;
        const done = { pumps: 0, renewals: 0, rescued: 0, settled: 0 };
        /** Runs `step` until the time is up; a failed step (logged in `errors`) is tried again. */
        const loop = async (step: () => Promise<void>) => {
          while (Date.now() < stopAt) await step().catch(() => Bun.sleep(1));
        };
        const work = replicas.flatMap((storage, r) => {
          const owners = [0, 1, 2, 3].map((w) => `r${r}/w${w}`);
          // What each owner of this replica holds, as the dispatcher would: seq -> owner.
          const held = new Map<number, string>();
          const pump = async () => {
            const now = Date.now();
            // Settle a random half of what is held, in a random order, completed or retried.
            const settlements: Settlement[] = shuffled([...held])
              .slice(0, Math.ceil(held.size / 2))
              .map(([seq, owner], i) =>
                settlement(
                  i % 3 === 0
                    ? { kind: "retry", seq, owner, runAt: now, error: "try again" }
                    : { kind: "completed", seq, owner },
                  now,
                ),
              );
            // Leases short enough that the rescues below take some of them while they are held.
            const claims = owners.flatMap((owner) => wants(owner, 25));
            const { claimed } = await storage.queue.settleAndClaim({
              settlements,
              claims,
              now,
              leaseUntil: now + 40,
            });
            for (const { seq } of settlements) held.delete(seq);
            for (const [i, order] of claimed.entries()) held.set(order.seq, claims[i]?.owner as string);
            done.pumps++;
            done.settled += settlements.length;
          };
          const renew = async () => {
            const list = shuffled([...held]).map(([seq, owner]) => ({ seq, owner }));
            await storage.queue.renewLeases({ held: list, until: Date.now() + 40 });
            done.renewals++;
          };
          const rescue = async () => {
            done.rescued += await storage.queue.releaseExpiredLeases({
              now: Date.now(),
              released: LEASE_EXPIRED,
            });
          };
          const release = async () => {
            await Bun.sleep(200);
            await storage.queue.releaseOrders({
              owner: owners[0] as string,
              now: Date.now(),
              released: WORKER_STOPPED,
            });
          };
          return [loop(pump), loop(pump), loop(renew), loop(renew), loop(rescue), loop(release)];
        });
        await Promise.all(work);
        expect(errors.filter((e) => e.includes("deadlock"))).toEqual([]);
        // Every kind of statement really ran, and met the others on the same rows.
        expect(done.pumps).toBeGreaterThan(50);
        expect(done.renewals).toBeGreaterThan(50);
        expect(done.settled).toBeGreaterThan(500);
        expect(done.rescued).toBeGreaterThan(0);
      } finally {
        for (const storage of replicas) await storage.close();
      }
    }, 30_000);

    test("a lease tick that overruns is skipped and counted: renewals never pile up", async () => {
      const url = await freshPostgresDatabase();
      // A long server deadline, so that the renewal below waits for as long as the row is locked.
      const storage = await openReplica(url, [], 10_000);
      const raw = await connect(url);
      // Another client watches: pg_stat_activity is read once per transaction, and raw is in one.
      const watcher = await connect(url);
      const { counted, lines, stop } = startDispatcher(storage.queue, 300);
      try {
        await storage.orders.createOrder(newOrder("held-1"), CREATED);
        await waitFor(() => lines().includes("start held-1"), { what: "held-1 to start" });
        // Another transaction holds the order's row: the renewal waits on it.
        await raw.query("BEGIN");
        await raw.query("SELECT 1 FROM orders WHERE order_id = 'held-1' FOR UPDATE");
        let mostAtOnce = 0;
        const until = Date.now() + 1500;
        while (Date.now() < until) {
          const { rows } = await watcher.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
               AND query LIKE '%SET lease_until%'`,
          );
          mostAtOnce = Math.max(mostAtOnce, rows[0]?.n ?? 0);
          await Bun.sleep(20);
        }
        await raw.query("COMMIT");
        // Ticks every 100 ms while one renewal waited 1.5 s: one renewal at a time, the rest skipped.
        expect(mostAtOnce).toBe(1);
        expect(counted.skipped).toBeGreaterThanOrEqual(8);
      } finally {
        await stop();
        await raw.end();
        await watcher.end();
        await storage.close();
      }
    }, 30_000);

    test("claims answered after another replica took the orders up are not started", async () => {
      const url = await freshPostgresDatabase();
      const ours = await openReplica(url, []);
      const other = await openReplica(url, []);
      const leaseMs = 1000;
      let tookOver = false;
      // The first pump that claims anything is answered late: meanwhile its lease runs out and the
      // other replica rescues and claims the orders (a slow network or a busy main thread).
      const queue: QueueStore = {
        ...ours.queue,
        settleAndClaim: async (args) => {
          const result = await ours.queue.settleAndClaim(args);
          if (!tookOver && result.claimed.length > 0) {
            tookOver = true;
            await Bun.sleep(leaseMs + 50);
            const now = Date.now();
            await other.queue.releaseExpiredLeases({ now, released: LEASE_EXPIRED });
            await other.queue.settleAndClaim({
              settlements: [],
              claims: wants("other/w0", 10),
              now,
              leaseUntil: now + 60_000,
            });
          }
          return result;
        },
      };
      const { counted, lines, stop } = startDispatcher(queue, leaseMs);
      try {
        await ours.orders.createOrder(newOrder("late-1"), CREATED);
        await waitFor(() => counted.lost > 0, { what: "the late claim to be dropped" });
        // The slot it took is free again: the next order runs.
        await ours.orders.createOrder(newOrder("quick-2"), CREATED);
        await waitFor(async () => (await ours.orders.findOrder("quick-2"))?.status === "completed", {
          what: "quick-2 to complete",
        });
        expect(lines()).toEqual(["start quick-2"]);
        expect(await ours.orders.findOrder("late-1")).toMatchObject({ status: "processing", attempts: 2 });
      } finally {
        await stop();
        await ours.close();
        await other.close();
      }
    }, 30_000);

    test("an attempt whose claim is lost mid-way is aborted through its signal, and its result not recorded", async () => {
      const url = await freshPostgresDatabase();
      const storage = await openReplica(url, []);
      const raw = await connect(url);
      const { counted, lines, stop } = startDispatcher(storage.queue, 900);
      try {
        await storage.orders.createOrder(newOrder("taken-1"), CREATED);
        await waitFor(() => lines().includes("start taken-1"), { what: "taken-1 to start" });
        // As if its lease had run out and another replica had rescued and claimed it, in one step.
        await raw.query(
          `UPDATE orders SET claimed_by = 'other/w0', attempts = attempts + 1,
             lease_until = now() + interval '60 seconds' WHERE order_id = 'taken-1'`,
        );
        await waitFor(() => lines().some((line) => line.startsWith("aborted taken-1")), {
          what: "taken-1 to be aborted",
        });
        expect(lines()[1]).toBe(
          "aborted taken-1: the claim on this order was lost: its lease was taken up by another holder",
        );
        expect(counted.lost).toBe(1);
        expect(await storage.orders.findOrder("taken-1")).toMatchObject({
          status: "processing",
          attempts: 2,
        });
      } finally {
        await stop();
        await raw.end();
        await storage.close();
      }
    }, 30_000);

    test("a statement past its deadline is ended by the server, which releases its locks", async () => {
      const url = await freshPostgresDatabase();
      const storage = await openReplica(url, [], 500);
      const holder = await connect(url);
      const checker = await connect(url);
      try {
        await storage.orders.createOrder(newOrder("a"), CREATED);
        await storage.orders.createOrder(newOrder("b"), CREATED);
        const now = Date.now();
        const [a, b] = (
          await storage.queue.settleAndClaim({
            settlements: [],
            claims: wants("w", 2),
            now,
            leaseUntil: now + 60_000,
          })
        ).claimed;
        // b is locked by another transaction; the renewal locks a, then waits for b.
        await holder.query("BEGIN");
        await holder.query("SELECT 1 FROM orders WHERE order_id = 'b' FOR UPDATE");
        const started = Date.now();
        const renewal = await storage.queue
          .renewLeases({
            held: [
              { seq: (a as Order).seq, owner: "w" },
              { seq: (b as Order).seq, owner: "w" },
            ],
            until: now + 120_000,
          })
          .then(
            () => "renewed",
            () => "failed",
          );
        expect(renewal).toBe("failed");
        expect(Date.now() - started).toBeLessThan(3000);
        // b is still locked by its holder, but the server ended the renewal: a is free.
        await checker.query("BEGIN");
        const locked = await checker.query("SELECT 1 FROM orders WHERE order_id = 'a' FOR UPDATE NOWAIT");
        expect(locked.rowCount).toBe(1);
        await checker.query("ROLLBACK");
        await holder.query("ROLLBACK");
      } finally {
        await holder.end();
        await checker.end();
        await storage.close();
      }
    }, 30_000);
  });
} else {
  describe("postgres leases", () => {
    console.log("PostgreSQL lease suite skipped: set TEST_DATABASE_URL");
    test.skip("needs TEST_DATABASE_URL", () => {});
  });
}
