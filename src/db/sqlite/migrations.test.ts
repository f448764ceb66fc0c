/**
 * Upgrading databases of older releases: before the per-status counts (migration 0002), the totals
 * are rebuilt from the rows and the new triggers keep them in step; before line items (0009), every
 * order keeps every field, its cents as minor units of USD.
 */
import { afterEach, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { ORDER_BEFORE_LINE_ITEMS } from "../../../test/fixtures/order-before-line-items.ts";
import { type Db, migrateDatabase, openDatabase } from "./client.ts";
import { createReads } from "./reads.ts";

const MIGRATIONS = join(import.meta.dir, "../../../drizzle");
let dir: string;
let db: Db | undefined;
afterEach(() => {
  db?.$client.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A copy of drizzle/ holding only its first `count` migrations: the database of an older release. */
function olderMigrations(count: number): string {
  const folder = join(dir, "older-drizzle");
  cpSync(MIGRATIONS, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8"));
  journal.entries = journal.entries.slice(0, count);
  writeFileSync(journalPath, JSON.stringify(journal));
  return folder;
}

test("a database of the release before keeps its totals through the upgrade", () => {
  dir = mkdtempSync(join(tmpdir(), "migrations-test-"));
  db = openDatabase(join(dir, "orders.db"), "NORMAL");
  migrate(db, { migrationsFolder: olderMigrations(2) });
  const insert = db.$client.prepare(
    `insert into orders (order_id, user_id, item_ids, total_cents, status, created_at, started_at, completed_at, run_at)
     values (?, 'u', '["i"]', 100, ?, 0, ?, ?, 0)`,
  );
  insert.run("p", "pending", null, null);
  insert.run("c1", "completed", 10, 25);
  insert.run("c2", "completed", 10, 40);
  insert.run("f", "failed", 5, null);

  migrateDatabase(db);
  const reads = createReads(db);
  expect(reads.countOrders()).toEqual({
    byStatus: { pending: 1, processing: 0, completed: 2, failed: 1, cancelled: 0 },
    completedProcessingMs: 45,
  });
  // The new triggers carry on from there.
  db.$client.run("update orders set status = 'processing', started_at = 100 where order_id = 'p'");
  db.$client.run("update orders set status = 'completed', completed_at = 107 where order_id = 'p'");
  expect(reads.countOrders()).toEqual({
    byStatus: { pending: 0, processing: 0, completed: 3, failed: 1, cancelled: 0 },
    completedProcessingMs: 52,
  });
});

test("a database of the release before line items keeps every field of its orders: USD, unpriced", () => {
  dir = mkdtempSync(join(tmpdir(), "migrations-test-"));
  db = openDatabase(join(dir, "orders.db"), "NORMAL");
  // 0000-0008: the last release with money as cents.
  migrate(db, { migrationsFolder: olderMigrations(9) });
  db.$client.run(
    `insert into orders (order_id, user_id, item_ids, total_cents, status, created_at, started_at, completed_at,
       attempts, last_error, run_at)
     values ('old-1', 'u-1', '["a","b"]', 15099, 'completed', 1000, 1010, 1020, 2, 'first try timed out', 1000)`,
  );

  migrateDatabase(db);
  expect(createReads(db).findOrder("old-1")).toEqual(ORDER_BEFORE_LINE_ITEMS);
});
