/**
 * The PostgreSQL adapter: the ports of src/storage.ts on a PostgreSQL database that several
 * replicas of the service share. Creates that arrive in one event-loop turn share one multi-row
 * INSERT (one round trip); a pump's results and claims share one transaction; claims carry a
 * lease that their holder renews and that, once expired, lets any replica rescue the order.
 */
import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import type pg from "pg";
import { storageUnavailable } from "../../errors.ts";
import { type NewOrder, ORDER_STATUSES, type Order, type OrderStatus } from "../../order.ts";
import { drizzleOver, migrateDatabase, openPool, redact } from "./client.ts";
import { createListener, createNotifier } from "./notify.ts";
import * as q from "./queue-sql.ts";
import { orders, toOrder } from "./schema.ts";

type Settlement =
  | { kind: "completed"; seq: number; owner: string }
  | { kind: "retry"; seq: number; owner: string; runAt: number; error: string }
  | { kind: "failed"; seq: number; owner: string; error: string };
type CreateOutcome = { created: true } | { created: false; existing: Order };
type PendingCreate = {
  order: NewOrder;
  resolve: (outcome: CreateOutcome) => void;
  reject: (e: unknown) => void;
};

/** Thrown when the database cannot be reached at start-up; the message never has the password. */
export class DatabaseUnreachableError extends Error {}

/** What the adapter reports: log lines (never with the password). */
export type PostgresHooks = { log: (message: string, error: string) => void };

/**
 * Connects to `url`, checks it answers, applies the migrations under an advisory lock, and returns
 * the storage.
 */
export async function openPostgresStorage(options: { url: string }, hooks: PostgresHooks) {
  const pool = openPool(options.url, (error) => hooks.log("PostgreSQL connection lost", error.message));
  try {
    await pool.query("SELECT 1");
    await migrateDatabase(pool);
  } catch (error) {
    await pool.end().catch(() => {});
    throw new DatabaseUnreachableError(`cannot use ${redact(options.url)}: ${(error as Error).message}`);
  }
  const db = drizzleOver(pool);
  const notifyNewOrders = createNotifier(pool, hooks.log);
  const listener = createListener(options.url, hooks.log);

  /** Runs `work`; a failure of the database (not of the request) becomes a 503, logged. */
  async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      hooks.log(`PostgreSQL ${what} failed`, (error as Error).message);
      throw storageUnavailable("The database is unavailable; nothing was saved. Retry the request.");
    }
  }

  // Creates of one event-loop turn, sent as one INSERT at the end of the turn.
  let creates: PendingCreate[] = [];
  async function flushCreates(): Promise<void> {
    const batch = creates;
    creates = [];
    try {
      const first = new Map<string, NewOrder>();
      for (const { order } of batch) if (!first.has(order.orderId)) first.set(order.orderId, order);
      const unique = [...first.values()];
      const inserted = await pool.query<{ orderId: string }>(
        q.insertOrders([
          unique.map((o) => o.orderId),
          unique.map((o) => o.userId),
          unique.map((o) => JSON.stringify(o.itemIds)),
          unique.map((o) => o.totalCents),
          unique.map((o) => o.createdAt),
        ]),
      );
      const created = new Set(inserted.rows.map((row) => row.orderId));
      if (created.size > 0) notifyNewOrders();
      const others = batch.filter(
        ({ order }) => !created.has(order.orderId) || first.get(order.orderId) !== order,
      );
      const existing = new Map<string, Order>();
      if (others.length > 0) {
        const ids = [...new Set(others.map(({ order }) => order.orderId))];
        for (const row of (await pool.query<Order>(q.selectOrders([ids]))).rows)
          existing.set(row.orderId, row);
      }
      for (const { order, resolve, reject } of batch) {
        if (created.has(order.orderId) && first.get(order.orderId) === order) resolve({ created: true });
        else {
          const found = existing.get(order.orderId);
          if (found) resolve({ created: false, existing: found });
          else reject(new Error(`order ${order.orderId} neither inserted nor found`));
        }
      }
    } catch (error) {
      hooks.log("PostgreSQL insert failed", (error as Error).message);
      const failure = storageUnavailable(
        "The order could not be stored; nothing was saved. Retry the request.",
      );
      for (const { reject } of batch) reject(failure);
    }
  }

  const byId = db
    .select()
    .from(orders)
    .where(eq(orders.orderId, sql.placeholder("orderId")))
    .prepare("find_order");
  const statusById = db
    .select({ orderId: orders.orderId, status: orders.status })
    .from(orders)
    .where(eq(orders.orderId, sql.placeholder("orderId")))
    .prepare("find_order_status");

  /** One pump: results recorded, then each slot filled in turn, in one transaction. */
  async function settleAndClaim(args: {
    settlements: Settlement[];
    claims: { owner: string; limit: number }[];
    now: number;
    leaseUntil: number;
  }) {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await settle(client, args.settlements, args.now);
      const claimed: Order[][] = [];
      let nextDueAt: number | null | undefined;
      for (const { owner, limit } of args.claims) {
        if (nextDueAt !== undefined) {
          claimed.push([]);
          continue;
        }
        const rows = (
          await client.query<Order & { runAt: number }>(
            q.claimOrders([owner, limit, args.now, args.leaseUntil]),
          )
        ).rows;
        rows.sort((a, b) => a.runAt - b.runAt || a.seq - b.seq);
        claimed.push(rows.map(({ runAt: _runAt, ...order }) => order));
        if (rows.length < limit)
          nextDueAt = (await client.query<{ runAt: number | null }>(q.nextDue([]))).rows[0]?.runAt ?? null;
      }
      await client.query("COMMIT");
      return { claimed, nextDueAt };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async function settle(client: pg.PoolClient, settlements: Settlement[], now: number): Promise<void> {
    const done = settlements.filter((s) => s.kind === "completed");
    const retried = settlements.filter((s) => s.kind === "retry");
    const failed = settlements.filter((s) => s.kind === "failed");
    if (done.length > 0)
      await client.query(q.completeOrders([done.map((s) => s.seq), done.map((s) => s.owner), now]));
    if (retried.length > 0) {
      await client.query(
        q.retryOrders([
          retried.map((s) => s.seq),
          retried.map((s) => s.owner),
          retried.map((s) => s.runAt),
          retried.map((s) => s.error),
        ]),
      );
    }
    if (failed.length > 0) {
      await client.query(
        q.failOrders([failed.map((s) => s.seq), failed.map((s) => s.owner), failed.map((s) => s.error)]),
      );
    }
  }

  let closed = false;
  return {
    orders: {
      createOrder: (order: NewOrder) =>
        new Promise<CreateOutcome>((resolve, reject) => {
          if (creates.length === 0) setImmediate(() => void flushCreates());
          creates.push({ order, resolve, reject });
        }),
      cancelOrder: (orderId: string) =>
        guarded("cancel", async () => {
          const cancelled = (await pool.query<Order>(q.cancelPending([orderId]))).rows[0];
          if (cancelled) return { cancelled: true as const, order: cancelled };
          const found = (await pool.query<Order>(q.selectOrders([[orderId]]))).rows[0];
          return { cancelled: false as const, order: found };
        }),
      findOrder: (orderId: string) =>
        guarded("read", async () => {
          const row = (await byId.execute({ orderId }))[0];
          return row && toOrder(row);
        }),
      findOrderStatus: (orderId: string) =>
        guarded("read", async () => (await statusById.execute({ orderId }))[0]),
      listOrders: (filter: { status?: OrderStatus; userId?: string; afterSeq: number; limit: number }) =>
        guarded("read", async () => {
          const conditions: SQL[] = [gt(orders.seq, filter.afterSeq)];
          if (filter.status) conditions.push(eq(orders.status, filter.status));
          if (filter.userId !== undefined) conditions.push(eq(orders.userId, filter.userId));
          const rows = await db
            .select()
            .from(orders)
            .where(and(...conditions))
            .orderBy(asc(orders.seq))
            .limit(filter.limit);
          return rows.map(toOrder);
        }),
    },
    queue: {
      settleAndClaim: (args: Parameters<typeof settleAndClaim>[0]) =>
        guarded("pump", () => settleAndClaim(args)),
      releaseOrders: (args: { owner: string; now: number }) =>
        guarded(
          "release",
          async () => (await pool.query(q.releaseOwner([args.owner, args.now]))).rowCount ?? 0,
        ),
      subscribe: (notified: () => void) => listener.subscribe(notified),
      releaseExpiredLeases: (now: number) =>
        guarded("rescue", async () => (await pool.query(q.releaseExpired([now]))).rowCount ?? 0),
      renewLeases: (args: { held: { seq: number; owner: string }[]; until: number }) =>
        guarded("lease renewal", async () => {
          await pool.query(
            q.renewLeases([args.held.map((h) => h.seq), args.held.map((h) => h.owner), args.until]),
          );
        }),
    },
    system: {
      countOrders: () =>
        guarded("count", async () => {
          const byStatus = Object.fromEntries(ORDER_STATUSES.map((status) => [status, 0])) as Record<
            OrderStatus,
            number
          >;
          let completedProcessingMs = 0;
          const { rows } = await pool.query<{ status: OrderStatus; orders: number; processingMs: number }>({
            name: "count_orders",
            text: `SELECT status, sum(orders)::float8 AS orders, sum(processing_ms)::float8 AS "processingMs"
                   FROM order_counts GROUP BY status`,
          });
          for (const row of rows) {
            byStatus[row.status] = row.orders;
            if (row.status === "completed") completedProcessingMs = row.processingMs;
          }
          return { byStatus, completedProcessingMs };
        }),
      // Assigning a transaction id makes the commit write (and, with synchronous_commit on, flush) WAL.
      probeWrite: () =>
        guarded("probe", async () => {
          await pool.query("SELECT txid_current()");
        }),
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (creates.length > 0) await flushCreates();
      await listener.close();
      await pool.end();
    },
  };
}
