/**
 * Picks and opens the storage adapter, the one place outside src/db/ that knows the adapters
 * (test/architecture.test.ts): PostgreSQL when DATABASE_URL is set, else SQLite at DATABASE_PATH.
 * Whatever cannot be opened becomes a StartupError naming the setting to fix.
 */
import { existsSync } from "node:fs";
import { type Config, StartupError } from "./config.ts";
import { dumpPostgres } from "./db/postgres/backup.ts";
import { redact } from "./db/postgres/client.ts";
import { migratePostgres, openPostgresStorage } from "./db/postgres/storage.ts";
import { backupSqlite } from "./db/sqlite/backup.ts";
import { FileLockedError, migrateSqlite, openSqliteStorage } from "./db/sqlite/storage.ts";
import type { Logger } from "./kit/logger.ts";
import * as lifecycle from "./lifecycle.ts";
import type { Metrics } from "./metrics/registry.ts";
import type { Storage } from "./storage.ts";

/**
 * The database a service runs on, as its start-up log line names it (never the password), with
 * where its PostgreSQL wake-ups come from when that is not DATABASE_URL itself.
 */
export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return config.databasePath;
  const notes: string[] = [];
  if (!config.pgPreparedStatements) notes.push("statements unprepared");
  if (config.databaseDirectUrl) notes.push(`LISTEN at ${redact(config.databaseDirectUrl)}`);
  else if (!config.pgPreparedStatements) notes.push("no LISTEN: other replicas' news by polling");
  return notes.length ? `${redact(config.databaseUrl)} (${notes.join("; ")})` : redact(config.databaseUrl);
}

/**
 * The server-side deadline of the queue's locking statements: a third of a lease (a pump or
 * renewal slower than that has already let leases run short), at most 5 s (under the client's
 * 10 s, so the server ends a statement before the client gives up on it).
 */
export function queueDeadlineMs(leaseMs: number): number {
  return Math.min(5000, Math.floor(leaseMs / 3));
}

/** PostgreSQL at DATABASE_URL; an unreachable or refusing server stops the start (password redacted). */
async function openPostgres(config: Config, url: string, log: Logger): Promise<Storage> {
  try {
    return await openPostgresStorage(
      {
        url,
        preparedStatements: config.pgPreparedStatements,
        directUrl: config.databaseDirectUrl,
        queueDeadlineMs: queueDeadlineMs(config.leaseMs),
      },
      { log: (message, error) => log("error", message, { error }) },
    );
  } catch (error) {
    throw new StartupError("DATABASE_URL", (error as Error).message);
  }
}

/**
 * Applies the migrations to the configured database and closes it (the CLI's `migrate`, for a
 * deploy job that runs before the new replicas start). A failure is a StartupError naming the
 * setting.
 */
export async function migrateStorage(config: Config): Promise<void> {
  if (config.databaseUrl) {
    try {
      return await migratePostgres(config.databaseUrl);
    } catch (error) {
      throw new StartupError("DATABASE_URL", (error as Error).message);
    }
  }
  try {
    migrateSqlite(config.databasePath, config.sqliteSynchronous);
  } catch (error) {
    const path = config.databasePath;
    if (error instanceof FileLockedError)
      throw new StartupError(
        "DATABASE_PATH",
        `database ${path} is in use by a running order service (${error.message}); it migrated the file when it started`,
      );
    throw new StartupError(
      "DATABASE_PATH",
      `cannot migrate the database at ${path}: ${(error as Error).message}`,
    );
  }
}

/**
 * Backs the configured database up into the new file `target` while services run (the CLI's
 * `backup`): VACUUM INTO on SQLite, pg_dump's custom format on PostgreSQL. Its size, and on SQLite
 * the orders the copy holds (PostgreSQL's dump is checked by listing it, not counted).
 */
export async function backupStorage(
  config: Config,
  target: string,
): Promise<{ bytes: number; orders?: number }> {
  if (config.databaseUrl) return dumpPostgres(config.databaseUrl, target);
  if (!existsSync(config.databasePath))
    throw new StartupError("DATABASE_PATH", `no database at ${config.databasePath} to back up`);
  return backupSqlite(config.databasePath, target);
}

/**
 * Opens the storage: PostgreSQL when DATABASE_URL is set, else SQLite at DATABASE_PATH (its
 * writer's batches go to `metrics`).
 */
export async function openStorage(
  config: Config,
  log: Logger,
  onFatal: (reason: string) => void,
  metrics: Metrics,
): Promise<Storage> {
  if (config.databaseUrl) return openPostgres(config, config.databaseUrl, log);
  try {
    const storage = await openSqliteStorage(
      {
        path: config.databasePath,
        synchronous: config.sqliteSynchronous,
        // Under the file lock every order left processing was held by a process that is gone.
        restarted: lifecycle.restarted(),
      },
      {
        log: (message, error) => log("error", message, { error }),
        onFatal,
        onBatches: metrics.observeBatches,
      },
    );
    metrics.queue.released(storage.recovered);
    if (storage.recovered > 0) {
      log("warn", "took up orders a previous process left processing", { released: storage.recovered });
    }
    return storage;
  } catch (error) {
    const path = config.databasePath;
    if (error instanceof FileLockedError) {
      throw new StartupError(
        "DATABASE_PATH",
        `database ${path} is in use by another running order service (${error.message}); ` +
          "stop that one first, or point DATABASE_PATH at another file",
      );
    }
    // A directory, a file that is not a database, a read-only place, a name too long: say which
    // setting to fix and what the system said, never a stack trace.
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupError("DATABASE_PATH", `cannot open the database at ${path}: ${reason}`);
  }
}
