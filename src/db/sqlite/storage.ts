/**
 * The SQLite adapter: opens one database file behind the ports (orders, queue, system) of
 * src/storage.ts. Reads run on the main thread's read-only connection; every write runs on the
 * writer thread (writer.ts) as a named operation of writes.ts, in group commits. The file is locked
 * for the life of the process first, before any migration or write, so a second process pointed at
 * it refuses to start instead of releasing the first one's orders.
 */
import type { SynchronousLevel } from "../../config.ts";
import type { NewOrder } from "../../order.ts";
import { migrateDatabase, openDatabase } from "./client.ts";
import { lockFile } from "./file-lock.ts";
import { createReads } from "./reads.ts";
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
  const lock = lockFile(path);
  try {
    // Migrations on a connection of their own, kept open until the reader is: closing the last
    // connection would checkpoint and delete the WAL that the read-only one needs to find.
    const migrator = openDatabase(path, synchronous);
    migrateDatabase(migrator);
    const writer = await DatabaseWriter.start<WriteOps>(
      { path, synchronous, opsModule: WRITES_MODULE },
      hooks,
    );
    const reader = openDatabase(path, synchronous, { readonly: true });
    migrator.$client.close();
    const reads = createReads(reader);
    let closed = false;

    return {
      orders: {
        createOrder: (order: NewOrder) =>
          writer.run("createOrder", { ...order, itemIds: JSON.stringify(order.itemIds) }),
        cancelOrder: (orderId: string) => writer.run("cancelOrder", orderId),
        findOrder: async (orderId: string) => reads.findOrder(orderId),
        findOrderStatus: async (orderId: string) => reads.findOrderStatus(orderId),
        listOrders: async (filter: Parameters<typeof reads.listOrders>[0]) => reads.listOrders(filter),
      },
      queue: {
        settleAndClaim: (args: Parameters<WriteOps["settleAndClaim"]>[0]) =>
          writer.run("settleAndClaim", args),
        releaseOrders: (args: { owner: string; now: number }) => writer.run("releaseOrders", args),
        releaseAllOrders: (now: number) => writer.run("releaseAllOrders", now),
      },
      system: {
        countOrders: async () => reads.countOrders(),
        probeWrite: () => writer.run("probeWrite"),
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
