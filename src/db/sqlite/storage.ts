/**
 * The SQLite adapter: opens one database file behind all six ports of src/storage.ts (orders,
 * queue, events, webhooks, dashboard, system). Reads run on the main thread's read-only
 * connection; every write runs on the writer thread (writer.ts) as a named operation of writes.ts,
 * in group commits; the dashboard's activity reports stay in memory (one process per file). The
 * file is locked for the life of the process first, before any migration or write, so a second
 * process pointed at it refuses to start instead of releasing the first one's orders.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { SynchronousLevel } from "../../config.ts";
import type { ActivityReport, NewOrder } from "../../order.ts";
import type { Webhook, WebhookKey } from "../../webhook.ts";
import { migrateDatabase, openDatabase } from "./client.ts";
import { lockFile } from "./file-lock.ts";
import { createReads } from "./reads.ts";
import { createWebhookReads } from "./webhook-sql.ts";
import { DatabaseWriter, type WriterHooks } from "./writer.ts";
import type { WriteOps } from "./writes.ts";

export { FileLockedError } from "./file-lock.ts";

const WRITES_MODULE = new URL("./writes.ts", import.meta.url);
/**
 * Locks `path`, applies the migrations, starts the writer thread and opens the read-only
 * connection. Throws `FileLockedError` if another process holds the file; `hooks.onFatal` is
 * called if the writer thread fails later (the process should then exit and restart).
 */
export async function openSqliteStorage(
  options: { path: string; synchronous: SynchronousLevel },
  hooks: WriterHooks,
) {
  const { path, synchronous } = options;
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
    const reads = createReads(reader);
    const webhookReads = createWebhookReads(reader);
    // Under the lock no other process can hold an order: every processing one was left by a
    // process that died. Before any claim, so these orders are the first to be taken up again.
    const recovered = await writer.run("releaseAllOrders", Date.now());
    // Likewise the webhook deliveries a dead process was sending: sent again at once (at least once).
    await writer.run("releaseAllDeliveries");
    let closed = false;
    const activity = new Map<string, ActivityReport>();

    return {
      /** Orders a dead process had left processing, put back to pending at open. */
      recovered,
      orders: {
        createOrder: (order: NewOrder) =>
          writer.run("createOrder", { ...order, itemIds: JSON.stringify(order.itemIds) }),
        cancelOrder: (orderId: string, now: number) => writer.run("cancelOrder", { orderId, now }),
        retryOrder: (orderId: string, now: number) => writer.run("retryOrder", { orderId, now }),
        listOrderEvents: async (orderId: string) => reads.listOrderEvents(orderId),
        findOrder: async (orderId: string) => reads.findOrder(orderId),
        findOrderStatus: async (orderId: string) => reads.findOrderStatus(orderId),
        listOrders: async (filter: Parameters<typeof reads.listOrders>[0]) => reads.listOrders(filter),
      },
      queue: {
        settleAndClaim: (args: Parameters<WriteOps["settleAndClaim"]>[0]) =>
          writer.run("settleAndClaim", args),
        renewLeases: (args: { held: { seq: number; owner: string }[]; until: number }) =>
          writer.run("renewLeases", args),
        releaseOrders: (args: { owner: string; now: number }) => writer.run("releaseOrders", args),
        releaseExpiredLeases: (now: number) => writer.run("releaseExpiredLeases", now),
        // One process per file: every new order is this process's own, and wakes its queue directly.
        subscribe: (_listener: () => void) => () => {},
      },
      events: {
        readEvents: async (query: Parameters<typeof reads.readEvents>[0]) => reads.readEvents(query),
        latestEventSeq: async () => reads.latestEventSeq(),
        subscribe: (listener: () => void) => {
          eventListeners.add(listener);
          return () => eventListeners.delete(listener);
        },
      },
      webhooks: {
        createWebhook: (webhook: Webhook, max: number) => writer.run("createWebhook", webhook, max),
        listWebhooks: async (page: { after?: WebhookKey; limit: number }) => webhookReads.listWebhooks(page),
        findWebhook: async (id: string) => webhookReads.findWebhook(id),
        deleteWebhook: (id: string) => writer.run("deleteWebhook", id),
        listDeliveries: async (query: Parameters<typeof webhookReads.listDeliveries>[0]) =>
          webhookReads.listDeliveries(query),
        claimDeliveries: (args: Parameters<WriteOps["claimDeliveries"]>[0]) =>
          writer.run("claimDeliveries", args),
        settleDeliveries: (outcomes: Parameters<WriteOps["settleDeliveries"]>[0]) =>
          writer.run("settleDeliveries", outcomes),
        redeliver: (args: Parameters<WriteOps["redeliver"]>[0]) => writer.run("redeliver", args),
        nextDeliveryAt: async () => webhookReads.nextDeliveryAt(),
      },
      // One process per file: the activity of "every replica" is this process's own, kept in memory.
      dashboard: {
        publishActivity: async (report: ActivityReport) => {
          activity.set(report.replica, report);
        },
        readActivity: async (since: number) => [...activity.values()].filter((report) => report.at >= since),
        listRecentFailures: async (limit: number) => reads.listRecentFailures(limit),
      },
      system: {
        countOrders: async () => reads.countOrders(),
        probeWrite: () => writer.run("probeWrite"),
        // Readiness reads the real writes too (src/system/readiness.ts).
        recentWrites: () => writer.lastOutcomes(),
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
