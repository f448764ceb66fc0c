/**
 * Opening SQLite connections: pragmas on every connection, migrations once at start-up, and the
 * WAL sync the writer thread uses for durability.
 */
import { Database } from "bun:sqlite";
import { closeSync, fdatasyncSync, mkdirSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import type { SynchronousLevel } from "../../config.ts";
import * as schema from "./schema.ts";

/** The Drizzle database of the adapter, with the raw bun:sqlite handle as `$client`. */
export type Db = ReturnType<typeof drizzle<typeof schema>>;

const MIGRATIONS_FOLDER = join(import.meta.dir, "../../../drizzle");

/**
 * Opens (creating if needed) the SQLite file in WAL mode at the given durability level. WAL lets
 * the main thread's reads proceed during the writer thread's commits; `busy_timeout` covers the
 * moments when another connection (a backup, the sqlite3 shell) holds the lock. `readonly` opens a
 * connection that cannot write at all: the main thread's, so the single-writer rule is enforced by
 * SQLite, not by a comment.
 */
export function openDatabase(
  path: string,
  synchronous: SynchronousLevel,
  { readonly = false }: { readonly?: boolean } = {},
): Db {
  if (path !== ":memory:" && !readonly) mkdirSync(dirname(path), { recursive: true });
  const client = readonly
    ? new Database(path, { readonly: true, strict: true })
    : new Database(path, { create: true, strict: true });
  if (!readonly) client.run("PRAGMA journal_mode = WAL");
  client.run("PRAGMA busy_timeout = 5000");
  client.run(`PRAGMA synchronous = ${synchronous}`);
  client.run("PRAGMA foreign_keys = ON");
  // 64 MiB of page cache (the default is 2 MiB): the order_id and user_id indexes take inserts at
  // scattered pages, and re-reading evicted pages from the OS was a measurable share of each insert.
  client.run("PRAGMA cache_size = -65536");
  return drizzle({ client, schema });
}

/** Applies the committed migrations (drizzle/); the caller holds the file's lock. */
export function migrateDatabase(db: Db): void {
  migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
}

/**
 * Opens the database's WAL file for syncing: `fsync` flushes it to disk with fdatasync, as SQLite
 * itself does for the WAL. It blocks; only the writer thread calls it, after each commit, to make
 * the commit durable before answering (see write-batcher.ts).
 */
export function openWalSync(db: Db): { fsync: () => void; close: () => void } {
  const fd = openSync(`${db.$client.filename}-wal`, "r+");
  return { fsync: () => fdatasyncSync(fd), close: () => closeSync(fd) };
}

/** Folds the WAL back into the main file and closes the connection; used on shutdown. */
export function closeDatabase(db: Db): void {
  db.$client.run("PRAGMA wal_checkpoint(TRUNCATE)");
  db.$client.close();
}
