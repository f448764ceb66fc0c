/**
 * What every port of the PostgreSQL adapter shares (storage.ts builds it once): the pool and its
 * Drizzle database, the one way a database failure becomes a 503, and how a write that recorded
 * events tells this process's subscribers and the other replicas.
 */
import type pg from "pg";
import { storageUnavailable } from "../../kit/errors.ts";
import type { PgDb } from "./client.ts";
import type { createListener, createNotifier } from "./notify.ts";

/** The adapter's shared parts; see the file comment. */
export type Adapter = {
  pool: pg.Pool;
  db: PgDb;
  /** Runs `work`; a failure of the database (not of the request) becomes a 503, logged. */
  guarded: <T>(what: string, work: () => Promise<T>) => Promise<T>;
  /** After a commit that recorded events: this process's subscribers now, the others by NOTIFY. */
  recorded: () => void;
  /** This process's event subscribers (the events port adds and removes them). */
  eventListeners: Set<() => void>;
  notifier: ReturnType<typeof createNotifier>;
  listener: ReturnType<typeof createListener>;
  /** The server-side deadline of the statements that lock orders (deadline.ts). */
  deadlineMs: number;
};

/** `Adapter.guarded`: a failure of the database is logged and becomes the one 503 of the adapter. */
export function guardedBy(log: (message: string, error: string) => void): Adapter["guarded"] {
  return async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      log(`PostgreSQL ${what} failed`, (error as Error).message);
      throw storageUnavailable("The database is unavailable; nothing was saved. Retry the request.");
    }
  };
}
