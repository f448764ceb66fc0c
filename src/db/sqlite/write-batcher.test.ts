import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError } from "../../kit/errors.ts";
import { created } from "../../lifecycle.ts";
import { closeDatabase, type Db, migrateDatabase, openDatabase, openWalSync } from "./client.ts";
import { createReads } from "./reads.ts";
import { type BatchStats, WriteBatcher } from "./write-batcher.ts";
import { createWriteOps } from "./writes.ts";

let dir: string;
let db: Db;
afterEach(() => {
  closeDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

function setup() {
  dir = mkdtempSync(join(tmpdir(), "batcher-test-"));
  db = openDatabase(join(dir, "orders.db"), "NORMAL");
  migrateDatabase(db);
  const writes = createWriteOps(db);
  const reads = createReads(db);
  return {
    insertOrder: (order: ReturnType<typeof row>) => writes.createOrder(order, created()).created,
    findOrder: (orderId: string) => reads.findOrder(orderId),
  };
}

const row = (orderId: string) => ({
  orderId,
  userId: "u",
  itemIds: '["i"]',
  currency: "USD",
  totalMinor: 100,
  cart: null,
  createdAt: 1,
});
const count = () => (db.$client.query("select count(*) as n from orders").get() as { n: number }).n;

test("the jobs of one turn share one transaction: a failure rolls back and rejects exactly that batch", async () => {
  const store = setup();
  const batcher = new WriteBatcher(db);
  // Two jobs queued in one turn: the second sees the first's uncommitted row (same transaction).
  const [inserted, seen] = await Promise.all([
    batcher.run(() => store.insertOrder(row("a"))),
    batcher.run(() => store.findOrder("a") !== undefined),
  ]);
  expect([inserted, seen]).toEqual([true, true]);

  const failing = [
    batcher.run(() => store.insertOrder(row("b"))),
    batcher.run(() => db.$client.run("insert into orders (order_id) values ('broken')")),
  ];
  for (const result of await Promise.allSettled(failing)) {
    expect(result.status).toBe("rejected");
    expect((result as PromiseRejectedResult).reason).toMatchObject({
      status: 503,
      code: "STORAGE_UNAVAILABLE",
    });
  }
  expect(store.findOrder("b")).toBeUndefined();
  expect(count()).toBe(1);
  // The next batch works again.
  expect(await batcher.run(() => store.insertOrder(row("later")))).toBe(true);
});

test("a client error inside a batch fails only its own job", async () => {
  const store = setup();
  const batcher = new WriteBatcher(db);
  const [ok, refused] = await Promise.allSettled([
    batcher.run(() => store.insertOrder(row("kept"))),
    batcher.run(() => {
      throw new AppError("ORDER_ID_CONFLICT", "no");
    }),
  ]);
  expect(ok).toEqual({ status: "fulfilled", value: true });
  expect(refused.status).toBe("rejected");
  expect(store.findOrder("kept")).toBeDefined();
});

test("with fsync, each commit is synced before its jobs settle; a failed sync is a 503", async () => {
  const store = setup();
  const wal = openWalSync(db);
  const events: string[] = [];
  let failing = false;
  const batcher = new WriteBatcher(db, {
    fsync: () => {
      events.push(db.$client.inTransaction ? "fsync inside the transaction" : "fsync after commit");
      if (failing) throw new Error("EIO");
      wal.fsync();
    },
  });
  await batcher.run(() => store.insertOrder(row("durable"))).then(() => events.push("settled"));
  expect(events).toEqual(["fsync after commit", "settled"]);

  failing = true;
  const failed = batcher.run(() => store.insertOrder(row("unsynced")));
  await expect(failed).rejects.toMatchObject({ status: 503, code: "STORAGE_UNAVAILABLE" });
  wal.close();
});

test("onBatch hears of each committed batch: its calls, commit and fsync seconds; a failed one is not reported", async () => {
  const store = setup();
  const batches: BatchStats[] = [];
  const synced = new WriteBatcher(db, { fsync: () => {}, onBatch: (batch) => batches.push(batch) });
  await Promise.all(["s-1", "s-2", "s-3"].map((id) => synced.run(() => store.insertOrder(row(id)))));
  const unsynced = new WriteBatcher(db, { onBatch: (batch) => batches.push(batch) });
  await unsynced.run(() => store.insertOrder(row("u-1")));
  await unsynced.run(() => db.$client.run("insert into orders (order_id) values ('broken')")).catch(() => {});
  expect(batches).toEqual([
    { size: 3, commitSeconds: expect.any(Number), fsyncSeconds: expect.any(Number) },
    { size: 1, commitSeconds: expect.any(Number), fsyncSeconds: undefined },
  ]);
  for (const batch of batches) expect(batch.commitSeconds).toBeGreaterThan(0);
});
