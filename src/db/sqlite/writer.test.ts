import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError } from "../../kit/errors.ts";
import { cancelled, created } from "../../lifecycle.ts";
import { closeDatabase, type Db, migrateDatabase, openDatabase } from "./client.ts";
import type { BatchStats } from "./write-batcher.ts";
import { DatabaseWriter } from "./writer.ts";
import type { WriteOps } from "./writes.ts";

const CREATED = created();

const WRITES = new URL("./writes.ts", import.meta.url);
let dir: string;
let db: Db;
let writer: DatabaseWriter<WriteOps> | undefined;
const fatal: string[] = [];

afterEach(async () => {
  await writer?.close();
  writer = undefined;
  closeDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

async function setup(onBatches?: (batches: BatchStats[]) => void) {
  dir = mkdtempSync(join(tmpdir(), "writer-test-"));
  const path = join(dir, "orders.db");
  db = openDatabase(path, "FULL"); // migrations, and the reads of this test
  migrateDatabase(db);
  writer = await DatabaseWriter.start<WriteOps>(
    { path, synchronous: "FULL", opsModule: WRITES },
    { log: () => {}, onFatal: (reason) => fatal.push(reason), onBatches },
  );
  return writer;
}

const order = (orderId: string) => ({
  orderId,
  userId: "u",
  itemIds: '["i"]',
  currency: "USD",
  totalMinor: 1999,
  cart: null,
  createdAt: Date.now(),
});

test("writes run on the writer thread, are visible to another connection once answered, and errors come back as AppErrors", async () => {
  const w = await setup();
  const [first, again] = await Promise.all([
    w.run("createOrder", order("w-1"), CREATED),
    w.run("createOrder", order("w-1"), CREATED),
  ]);
  expect(first).toEqual({ created: true });
  expect(again).toMatchObject({
    created: false,
    existing: { orderId: "w-1", status: "pending", totalMinor: 1999 },
  });
  const row = db.$client.query("select status from orders where order_id = 'w-1'").get();
  expect(row).toEqual({ status: "pending" });
  const change = { transition: cancelled() };
  expect(await w.run("changeOrder", { orderId: "w-1", change, now: Date.now() })).toMatchObject({
    changed: true,
    order: { status: "cancelled" },
  });

  // An operation the table does not have is refused as a 503 AppError, across the thread.
  // (awaited through .catch: bun's `expect(promise).rejects` did not let the worker's answer in)
  const unknown = w.run("noSuchOp" as "probeWrite").catch((error: unknown) => error);
  const refused = await unknown;
  expect(refused).toBeInstanceOf(AppError);
  expect(refused).toMatchObject({ status: 503, code: "STORAGE_UNAVAILABLE" });
  expect(fatal).toEqual([]);
});

test("the thread's committed batches reach onBatches with the answers: every call counted once", async () => {
  const batches: BatchStats[] = [];
  const w = await setup((reported) => batches.push(...reported));
  await Promise.all(Array.from({ length: 50 }, (_, i) => w.run("createOrder", order(`b-${i}`), CREATED)));
  await w.run("createOrder", order("b-last"), CREATED);
  expect(batches.reduce((sum, batch) => sum + batch.size, 0)).toBe(51);
  for (const batch of batches) {
    expect(batch.commitSeconds).toBeGreaterThan(0);
    expect(batch.fsyncSeconds).toBeNumber(); // FULL: the batcher syncs the WAL itself
  }
});

test("close answers every call made before it, then refuses new ones with a 503", async () => {
  const w = await setup();
  const calls = Array.from({ length: 200 }, (_, i) => w.run("createOrder", order(`c-${i}`), CREATED));
  await Bun.sleep(0); // the first 200 are now in flight: the next 100 wait for their answer...
  calls.push(...Array.from({ length: 100 }, (_, i) => w.run("createOrder", order(`d-${i}`), CREATED)));
  await w.close(); // ...and close sends them too
  expect(await Promise.all(calls)).toEqual(calls.map(() => ({ created: true })));
  const count = db.$client.query("select count(*) as n from orders").get() as { n: number };
  expect(count.n).toBe(300);
  const refused = await w.run("probeWrite").catch((error: unknown) => error);
  expect(refused).toMatchObject({ status: 503, code: "STORAGE_UNAVAILABLE" });
  expect(fatal).toEqual([]); // a close is not an unexpected exit
});

test("a database the writer cannot open fails its start, not a later call", async () => {
  dir = mkdtempSync(join(tmpdir(), "writer-test-"));
  db = openDatabase(join(dir, "orders.db"), "FULL");
  const started = DatabaseWriter.start<WriteOps>(
    {
      path: join(dir, "missing-folder", "sub", "x.db"),
      synchronous: "FULL",
      opsModule: new URL("./nope.ts", WRITES),
    },
    { log: () => {}, onFatal: (reason) => fatal.push(reason) },
  );
  await expect(started).rejects.toThrow();
});

test("another thread's handle over a connected port writes through the same writer thread, and its batches are reported", async () => {
  const batches: BatchStats[] = [];
  const w = await setup((reported) => batches.push(...reported));
  const other = DatabaseWriter.over<WriteOps>(w.connect(), { log: () => {}, onFatal: () => {} });
  // Calls from both handles at once: each answered on its own channel, all durable.
  const [mine, theirs] = await Promise.all([
    w.run("createOrder", order("p-1"), CREATED),
    other.run("createOrder", order("p-2"), CREATED),
  ]);
  expect(mine).toEqual({ created: true });
  expect(theirs).toEqual({ created: true });
  expect(db.$client.query("select count(*) as n from orders").get()).toEqual({ n: 2 });
  // A batch of the other handle's calls alone still reaches the main thread's metrics (within a second).
  batches.length = 0;
  expect(await other.run("createOrder", order("p-3"), CREATED)).toEqual({ created: true });
  const deadline = Date.now() + 3000;
  while (batches.length === 0 && Date.now() < deadline) await Bun.sleep(20);
  expect(batches.reduce((calls, batch) => calls + batch.size, 0)).toBe(1);
  await other.close();
  await expect(other.run("createOrder", order("p-4"), CREATED)).rejects.toBeInstanceOf(AppError);
});
