/**
 * The SQLite adapter: the ports of src/storage.ts on one database file that one process owns. This
 * file locks the file, migrates it, starts the writer thread, releases what a dead process left
 * claimed, opens the read-only connection, and assembles the ports, one file each (orders.ts,
 * queue.ts, events.ts, webhooks.ts, dashboard.ts, system.ts) over the parts they share
 * (context.ts). Reads run on the main thread's read-only connection; every write runs on the
 * writer thread (writer.ts) as a named operation of writes.ts, in group commits; the dashboard's
 * activity reports stay in memory (one process per file). The file is locked for the life of the
 * process first, before any migration or write, so a second process pointed at it refuses to
 * start instead of releasing the first one's orders.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { SynchronousLevel } from "../../config.ts";
import type { Transition } from "../../records/order.ts";
import { closeDatabase, migrateDatabase, openDatabase } from "./client.ts";
import type { Adapter } from "./context.ts";
import { createDashboardStore } from "./dashboard.ts";
import { createEventStore } from "./events.ts";
import { lockFile } from "./file-lock.ts";
import { createOrderStore } from "./orders.ts";
import { createQueueStore } from "./queue.ts";
import { createReads } from "./reads.ts";
import { createRetentionStore } from "./retention.ts";
import { createSystemStore } from "./system.ts";
import type { ThreadArgs } from "./thread-webhooks.ts";
import { createWebhookReads } from "./webhook-reads.ts";
import { createWebhookStore } from "./webhooks.ts";
import { DatabaseWriter, type WriterHooks } from "./writer.ts";
import type { WriteOps } from "./writes.ts";

export { FileLockedError } from "./file-lock.ts";

const WRITES_MODULE = new URL("./writes.ts", import.meta.url);
const THREAD_WEBHOOKS_MODULE = new URL("./thread-webhooks.ts", import.meta.url);
/**
 * Locks `path`, applies the migrations, starts the writer thread and opens the read-only
 * connection. Throws `FileLockedError` if another process holds the file; `hooks.onFatal` is
 * called if the writer thread fails later (the process should then exit and restart).
 */
/**
 * Applies the migrations to the file at `path` and closes it (the CLI's `migrate`), under the
 * file's lock: refused (FileLockedError) while a service has the file open.
 */
export function migrateSqlite(path: string, synchronous: SynchronousLevel): void {
  mkdirSync(dirname(path), { recursive: true });
  const lock = lockFile(path);
  try {
    const db = openDatabase(path, synchronous);
    migrateDatabase(db);
    closeDatabase(db);
  } finally {
    lock.release();
  }
}

export async function openSqliteStorage(
  options: { path: string; synchronous: SynchronousLevel; restarted: Transition },
  hooks: WriterHooks,
) {
  const { path, synchronous, restarted } = options;
  // The folder first (the quick start's ./data does not exist yet), then the lock beside the file.
  mkdirSync(dirname(path), { recursive: true });
  const lock = lockFile(path);
  try {
    // Migrations on a connection of their own, kept open until the reader is: closing the last
    // connection would checkpoint and delete the WAL that the read-only one needs to find.
    const migrator = openDatabase(path, synchronous);
    migrateDatabase(migrator);
    // Only this process writes to the file: its own commits are all the news there is. The writer
    // reports each committed batch once (with the answers of its writes): one wake-up per commit.
    const eventListeners = new Set<() => void>();
    const writer = await DatabaseWriter.start<WriteOps>(
      { path, synchronous, opsModule: WRITES_MODULE },
      {
        ...hooks,
        onBatches: (batches) => {
          hooks.onBatches?.(batches);
          for (const listener of eventListeners) listener();
        },
      },
    );
    const reader = openDatabase(path, synchronous, { readonly: true });
    migrator.$client.close();
    const adapter: Adapter = {
      writer,
      reads: createReads(reader),
      webhookReads: createWebhookReads(reader),
      eventListeners,
    };
    // Under the lock no other process can hold an order: every processing one was left by a
    // process that died. Before any claim, so these orders are the first to be taken up again.
    // `restarted` is the release the caller records for them.
    const recovered = await writer.run("releaseAllOrders", { now: Date.now(), released: restarted });
    // Likewise the webhook deliveries a dead process was sending: sent again at once (at least once).
    await writer.run("releaseAllDeliveries");
    let closed = false;

    return {
      /** Orders a dead process had left processing, put back to pending at open. */
      recovered,
      orders: createOrderStore(adapter),
      queue: createQueueStore(adapter),
      events: createEventStore(adapter),
      webhooks: createWebhookStore(adapter),
      dashboard: createDashboardStore(adapter),
      system: createSystemStore(adapter),
      retention: createRetentionStore(adapter),
      /** The sender's thread: a channel to the writer thread and a read connection of its own. */
      webhooksForThread() {
        const port = writer.connect();
        const args: ThreadArgs = { path, synchronous, port };
        return { module: THREAD_WEBHOOKS_MODULE.href, args, transfer: [port] };
      },
      /** Commits what is queued, checkpoints and closes both connections, then drops the lock. */
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        try {
          await writer.close();
        } finally {
          reader.$client.close();
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}
