/**
 * The PostgreSQL adapter: the ports of src/storage.ts on a PostgreSQL database that several
 * replicas of the service share. Creates that arrive in one event-loop turn share one multi-row
 * INSERT (one round trip); a pump's results and claims share one transaction; claims carry a
 * lease that their holder renews and that, once expired, lets any replica rescue the order.
 */
import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import type pg from "pg";
import { storageUnavailable } from "../../errors.ts";
import type { ActivityReport, ClaimRequest, EventQuery, ListFilter, Settlement } from "../../order.ts";
import { ORDER_STATUSES, type Order, type OrderEvent, type OrderStatus } from "../../order.ts";
import type { Storage } from "../../storage.ts";
import { drizzleOver, fillPool, migrateDatabase, openPool, redact } from "./client.ts";
import { createBatcher } from "./creates.ts";
import * as d from "./dashboard-sql.ts";
import { queryWithDeadline } from "./deadline.ts";
import * as ev from "./events-sql.ts";
import { createListener, createNotifier, EVENTS, NEW_ORDERS } from "./notify.ts";
import { settleAndClaim } from "./pump.ts";
import * as q from "./queue-sql.ts";
import { orders, toOrder } from "./schema.ts";
import { createWebhookStore } from "./webhooks.ts";

/** Thrown when the database cannot be reached at start-up; the message never has the password. */
export class DatabaseUnreachableError extends Error {}

/** What the adapter reports: log lines (never with the password). */
export type PostgresHooks = { log: (message: string, error: string) => void };

/** Where the adapter connects, and how long the queue's locking statements may run on the server. */
export type PostgresOptions = {
  url: string;
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
export async function openPostgresStorage(options: PostgresOptions, hooks: PostgresHooks): Promise<Storage> {
  const deadlineMs = options.queueDeadlineMs ?? 5000;
  const pool = openPool(options.url, (error) => hooks.log("PostgreSQL connection lost", error.message));
  try {
    await pool.query("SELECT 1");
    await migrateDatabase(pool);
    // Every counter row exists before any transaction counts (see drizzle/postgres/0005).
    await pool.query(q.createCounters([ORDER_STATUSES]));
    // The hot statements, prepared on every connection with empty inputs (nothing is written); the
    // pump's function compiled on each.
    await fillPool(pool, async (client) => {
      await client.query(q.insertOrders([[], [], [], [], []]));
      await client.query(q.selectOrders([[]]));
      await queryWithDeadline(client, q.pump([[], [], [], [], [], [], [], [], [], [], [], 0, 0]), deadlineMs);
    });
  } catch (error) {
    await pool.end().catch(() => {});
    throw new DatabaseUnreachableError(`cannot use ${redact(options.url)}: ${(error as Error).message}`);
  }
  const db = drizzleOver(pool);
  const notifier = createNotifier(pool, hooks.log);
  const listener = createListener(options.url, hooks.log, notifier.signature);

  /** Runs `work`; a failure of the database (not of the request) becomes a 503, logged. */
  async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      hooks.log(`PostgreSQL ${what} failed`, (error as Error).message);
      throw storageUnavailable("The database is unavailable; nothing was saved. Retry the request.");
    }
  }

  // This process's event subscribers hear of its own writes at once, after the commit; the other
  // replicas through the EVENTS channel.
  const eventListeners = new Set<() => void>();
  function recorded(): void {
    for (const listener of eventListeners) listener();
    notifier.notify(EVENTS);
  }

  const creates = createBatcher(
    pool,
    () => {
      notifier.notify(NEW_ORDERS);
      recorded();
    },
    hooks.log,
  );

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
  /** The order as the port speaks it (the statement a cancel or retry that changed nothing ends with). */
  const findOne = async (orderId: string) => (await pool.query<Order>(q.selectOrders([[orderId]]))).rows[0];
  /** Runs a release statement; announces its events, if it recorded any; returns how many. */
  async function released(statement: pg.QueryConfig): Promise<number> {
    const count = (await queryWithDeadline(pool, statement, deadlineMs)).rowCount ?? 0;
    if (count > 0) recorded();
    return count;
  }

  let closed = false;
  return {
    orders: {
      createOrder: creates.create,
      cancelOrder: (orderId: string, now: number) =>
        guarded("cancel", async () => {
          const cancelled = (await pool.query<Order>(q.cancelPending([orderId, now]))).rows[0];
          if (!cancelled) return { cancelled: false as const, order: await findOne(orderId) };
          recorded();
          return { cancelled: true as const, order: cancelled };
        }),
      retryOrder: (orderId: string, now: number) =>
        guarded("retry", async () => {
          const retried = (await pool.query<Order>(q.retryFailed([orderId, now]))).rows[0];
          if (!retried) return { retried: false as const, order: await findOne(orderId) };
          notifier.notify(NEW_ORDERS);
          recorded();
          return { retried: true as const, order: retried };
        }),
      listOrderEvents: (orderId: string) =>
        guarded("read", async () => (await pool.query<OrderEvent>(ev.listOrderEvents([orderId]))).rows),
      findOrder: (orderId: string) =>
        guarded("read", async () => {
          const row = (await byId.execute({ orderId }))[0];
          return row && toOrder(row);
        }),
      findOrderStatus: (orderId: string) =>
        guarded("read", async () => (await statusById.execute({ orderId }))[0]),
      listOrders: (filter: ListFilter) =>
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
      settleAndClaim: (args: {
        settlements: Settlement[];
        claims: ClaimRequest[];
        now: number;
        leaseUntil: number;
      }) =>
        guarded("pump", async () => {
          const { changed, ...result } = await settleAndClaim(pool, args, deadlineMs);
          if (changed) recorded();
          return result;
        }),
      releaseOrders: (args: { owner: string; now: number }) =>
        guarded("release", () => released(q.releaseOwner([args.owner, args.now]))),
      subscribe: (notified: () => void) => listener.subscribe(NEW_ORDERS, notified),
      releaseExpiredLeases: (now: number) => guarded("rescue", () => released(q.releaseExpired([now]))),
      renewLeases: (args: { held: { seq: number; owner: string }[]; until: number }) =>
        guarded("lease renewal", async () => {
          const statement = q.renewLeases([
            args.held.map((h) => h.seq),
            args.held.map((h) => h.owner),
            args.until,
          ]);
          return (await queryWithDeadline<{ seq: number }>(pool, statement, deadlineMs)).rows.map(
            (r) => r.seq,
          );
        }),
    },
    events: {
      readEvents: (query: EventQuery) =>
        guarded("read", async () => (await pool.query<OrderEvent>(ev.readEvents(query))).rows),
      latestEventSeq: () =>
        guarded(
          "read",
          async () => (await pool.query<{ seq: number }>(ev.latestEventSeq([]))).rows[0]?.seq ?? 0,
        ),
      subscribe: (notified: () => void) => {
        eventListeners.add(notified);
        const unlisten = listener.subscribe(EVENTS, notified);
        return () => {
          eventListeners.delete(notified);
          unlisten();
        };
      },
    },
    // No release of delivery claims at start-up, unlike SQLite: other replicas may be sending them;
    // a claim whose lease ran out is due again (webhook-sql.ts, claimDeliveries).
    webhooks: createWebhookStore(pool, guarded),
    // Replicas share the database: each upserts its report, and any one reads them all.
    dashboard: {
      publishActivity: ({ replica, at, ...report }: ActivityReport) =>
        guarded("activity write", async () => {
          await pool.query(d.upsertActivity([replica, at, JSON.stringify(report)]));
        }),
      readActivity: (since: number) =>
        guarded("read", async () => {
          const { rows } = await pool.query<d.ActivityRow>(d.selectActivity([since]));
          return rows.map(({ replica, at, report }): ActivityReport => ({ ...report, replica, at }));
        }),
      listRecentFailures: (limit: number) =>
        guarded("read", async () => (await pool.query<Order>(d.selectRecentFailures([limit]))).rows),
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
      await creates.flush();
      notifier.close();
      await listener.close();
      await pool.end();
    },
  };
}
