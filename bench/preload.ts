/**
 * Fills a database with N completed orders (ids pre-0 … pre-N-1) through the real migrations and
 * triggers, in large transactions, so the scale benchmark starts from a big table.
 * Usage: bun bench/preload.ts <database path> <count>
 */
import { migrateDatabase, openDatabase } from "../src/db/sqlite/client.ts";

const [path, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 1_000_000);
const drizzleDb = openDatabase(path ?? "./data/preload.db", "OFF");
migrateDatabase(drizzleDb);
const db = drizzleDb.$client;
const insert = db.prepare(
  `insert into orders (order_id, user_id, item_ids, total_minor, status, created_at, started_at, completed_at, attempts, run_at)
   values (?, ?, '["item_1","item_2"]', 15099, 'completed', ?, ?, ?, 1, ?)`,
);
const now = Date.now() - 86_400_000;
for (let start = 0; start < count; start += 50_000) {
  db.transaction(() => {
    for (let i = start; i < Math.min(count, start + 50_000); i++) {
      insert.run(`pre-${i}`, `user_${i % 10_000}`, now + i, now + i, now + i + 100, now + i);
    }
  })();
}
db.run("PRAGMA wal_checkpoint(TRUNCATE)");
db.close();
console.log(`preloaded ${count} orders into ${path}`);
