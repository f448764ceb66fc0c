import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError } from "../errors.ts";
import { closeDatabase, type Db, openDatabase } from "./client.ts";
import { DatabaseWriter } from "./writer.ts";

let dir: string;
let db: Db;
let writer: DatabaseWriter;
const logged: string[] = [];
const exits: string[] = [];

afterEach(async () => {
  console.log("afterEach: close writer");
  await writer.close();
  console.log("afterEach: close db");
  closeDatabase(db);
  console.log("afterEach: done");
  rmSync(dir, { recursive: true, force: true });
});

function setup() {
  dir = mkdtempSync(join(tmpdir(), "writer-test-"));
  const path = join(dir, "orders.db");
  db = openDatabase(path, "FULL"); // migrations, and the reads of this test
  writer = new DatabaseWriter(path, "FULL", {
    log: (message) => logged.push(message),
    onExit: (reason) => exits.push(reason),
  });
}

const order = (orderId: string) => ({
  orderId,
  userId: "u",
  itemIds: '["i"]',
  totalCents: 1999,
  createdAt: Date.now(),
});

test("writes run on the writer thread, are visible to another connection once answered, and errors come back as AppErrors", async () => {
  setup();
  const [first, again] = await Promise.all([
    writer.run("createOrder", order("w-1")),
    writer.run("createOrder", order("w-1")),
  ]);
  expect(first).toBeNull(); // inserted
  expect(again).toMatchObject({ orderId: "w-1", status: "pending", totalCents: 1999 }); // the existing row
  const row = db.$client.query("select status from orders where order_id = 'w-1'").get();
  expect(row).toEqual({ status: "pending" });

  // (awaited through .catch: bun's `expect(promise).rejects` did not let the worker's answer in)
  const missing = await writer.run("cancelOrder", "nope").catch((error: unknown) => error);
  expect(missing).toBeInstanceOf(AppError);
  expect(missing).toMatchObject({ status: 404, code: "ORDER_NOT_FOUND" });
  expect(await writer.run("cancelOrder", "w-1")).toMatchObject({ status: "cancelled" });
  expect(exits).toEqual([]);
});

test("close answers every call made before it, then refuses new ones with a 503", async () => {
  setup();
  const calls = Array.from({ length: 200 }, (_, i) => writer.run("createOrder", order(`c-${i}`)));
  await Bun.sleep(0); // the first 200 are now in flight: the next 100 wait for their answer...
  calls.push(...Array.from({ length: 100 }, (_, i) => writer.run("createOrder", order(`d-${i}`))));
  await writer.close(); // ...and close sends them too
  expect(await Promise.all(calls)).toEqual(calls.map(() => null));
  const count = db.$client.query("select count(*) as n from orders").get() as { n: number };
  expect(count.n).toBe(300);
  const refused = await writer.run("touch").catch((error: unknown) => error);
  expect(refused).toMatchObject({ status: 503, code: "STORAGE_UNAVAILABLE" });
  expect(exits).toEqual([]); // a close is not an unexpected exit
});
