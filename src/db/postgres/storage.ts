/**
 * The PostgreSQL adapter: the ports of src/storage.ts on a PostgreSQL database that several
 * replicas of the service share. This file opens, migrates and warms the pool, and assembles the
 * ports, one file each (orders.ts, queue.ts, events.ts, webhooks.ts, dashboard.ts, system.ts) over
 * the parts they share (context.ts). Creates that arrive in one event-loop turn share one multi-row
 * INSERT (one round trip); a pump's results and claims share one transaction; claims carry a
 * lease that their holder renews and that, once expired, lets any replica rescue the order.
 */
import { ORDER_STATUSES } from "../../records/order.ts";
import type { Storage } from "../../storage.ts";
import { drizzleOver, fillPool, migrateDatabase, openPool, redact } from "./client.ts";
import { type Adapter, guardedBy } from "./context.ts";
import { createBatcher } from "./creates.ts";
import { createDashboardStore } from "./dashboard.ts";
import { queryWithDeadline } from "./deadline.ts";
import { createEventStore } from "./events.ts";
import { createListener, createNotifier, EVENTS, NEW_ORDERS } from "./notify.ts";
import { createOrderStore } from "./orders.ts";
import { createQueueStore } from "./queue.ts";
import * as q from "./queue-sql.ts";
import { createRetentionStore } from "./retention.ts";
import { createSystemStore } from "./system.ts";
import { createWebhookStore } from "./webhooks.ts";

const THREAD_WEBHOOKS_MODULE = new URL("./thread-webhooks.ts", import.meta.url);

/** Thrown when the database cannot be reached at start-up; the message never has the password. */
export class DatabaseUnreachableError extends Error {}

/** What the adapter reports: log lines (never with the password). */
export type PostgresHooks = { log: (message: string, error: string) => void };

/** Where the adapter connects, and how long the queue's locking statements may run on the server. */
export type PostgresOptions = {
  url: string;
  /** Whether statements are named, prepared once per connection (PG_PREPARED_STATEMENTS); default true. */
  preparedStatements?: boolean;
  /**
   * Where LISTEN connects (DATABASE_DIRECT_URL: direct or session-mode). Unset: `url`, unless
   * `preparedStatements` is false, which says `url` is a transaction-mode pooler that cannot keep
   * a LISTEN: then no LISTEN at all, and the other replicas' news arrive by polling.
   */
  directUrl?: string;
  /**
   * The server-side deadline of every statement that locks orders (pump, renewal, rescue,
   * release; deadline.ts). The service passes a third of LEASE_MS: a pump or renewal that takes
   * longer has already let leases run short. Default 5 s.
   */
  queueDeadlineMs?: number;
};

/**
 * Connects to `url`, checks it answers, applies the migrations under an advisory lock, and returns
 * the storage.
 */
/** Applies the migrations at `url` and closes (the CLI's `migrate`); replicas may be running. */
export async function migratePostgres(url: string): Promise<void> {
  const pool = openPool(url, () => {}, 1);
  try {
    await migrateDatabase(pool);
  } finally {
    await pool.end();
  }
}

export async function openPostgresStorage(options: PostgresOptions, hooks: PostgresHooks): Promise<Storage> {
  const deadlineMs = options.queueDeadlineMs ?? 5000;
  const prepared = options.preparedStatements ?? true;
  const pool = openPool(
    options.url,
    (error) => hooks.log("PostgreSQL connection lost", error.message),
    16,
    prepared,
  );
  try {
    await pool.query("SELECT 1");
    await migrateDatabase(pool);
    // Every counter row exists before any transaction counts (see drizzle/postgres/0005).
    await pool.query(q.createCounters([ORDER_STATUSES]));
    // The hot statements, prepared on every connection with empty inputs (nothing is written); the
    // pump's function compiled on each. Unprepared behind a pooler, this only opens the connections.
    await fillPool(pool, async (client) => {
      await client.query(q.insertOrders([]));
      await client.query(q.selectOrders([[]]));
      await queryWithDeadline(
        client,
        q.pump({ settlements: [], claims: [], now: 0, leaseUntil: 0 }),
        deadlineMs,
      );
    });
  } catch (error) {
    await pool.end().catch(() => {});
    throw new DatabaseUnreachableError(`cannot use ${redact(options.url)}: ${(error as Error).message}`);
  }
  const notifier = createNotifier(pool, hooks.log);
  // This process's event subscribers hear of its own writes at once, after the commit; the other
  // replicas through the EVENTS channel.
  const eventListeners = new Set<() => void>();
  const adapter: Adapter = {
    pool,
    db: drizzleOver(pool),
    guarded: guardedBy(hooks.log),
    recorded() {
      for (const listener of eventListeners) listener();
      notifier.notify(EVENTS);
    },
    eventListeners,
    notifier,
    listener: createListener(
      options.directUrl ?? (prepared ? options.url : undefined),
      hooks.log,
      notifier.signature,
    ),
    deadlineMs,
  };
  const creates = createBatcher(
    pool,
    () => {
      notifier.notify(NEW_ORDERS);
      adapter.recorded();
    },
    hooks.log,
  );

  let closed = false;
  return {
    orders: createOrderStore(adapter, creates),
    queue: createQueueStore(adapter),
    events: createEventStore(adapter),
    // No release of delivery claims at start-up, unlike SQLite: other replicas may be sending them;
    // a claim whose lease ran out is due again (webhook-sql.ts, claimDeliveries).
    webhooks: createWebhookStore(adapter),
    dashboard: createDashboardStore(adapter),
    system: createSystemStore(adapter),
    retention: createRetentionStore(adapter),
    // The sender's thread opens a small pool of its own on the same database.
    webhooksForThread: () => ({
      module: THREAD_WEBHOOKS_MODULE.href,
      args: { url: options.url, prepared },
      transfer: [],
    }),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await creates.flush();
      notifier.close();
      await adapter.listener.close();
      await pool.end();
    },
  };
}
