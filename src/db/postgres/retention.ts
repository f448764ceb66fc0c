/**
 * The retention port on PostgreSQL: the oldest rows deleted a bounded batch at a time, each batch
 * one short transaction. Replicas take turns through a transaction-scoped advisory lock (which
 * also works behind a pooler in transaction mode): a replica that finds it taken skips its pass,
 * since another one is pruning. Each batch reads the next rows up the primary key and deletes a
 * range of it, as on SQLite (records/retention.ts decides how far).
 */
import type pg from "pg";
import type { OrderStatus } from "../../records/order.ts";
import { type OldestEvent, type PruneBatch, type PruneResult, prunableRun } from "../../records/retention.ts";
import type { Adapter } from "./context.ts";
import { ms, statement } from "./sql.ts";

// Any fixed number, distinct from the migrations' (client.ts) and webhook creates' locks.
const PRUNE_LOCK = 4_201_131;
// As on SQLite (retention-sql.ts): events this long before the oldest kept delivery are not
// referred to by any delivery (deliveries are inserted with their event, in its transaction).
const DELIVERY_HOLD_MS = 60_000;

type Row = { seq: number; at: number };
// Every walk orders by the table's column (`t.seq`), not by the float8 output named "seq": that
// would sort the whole table instead of reading the primary key in order (1.9 s a batch at 2M rows).

const lock = statement("prune_lock", `SELECT pg_try_advisory_xact_lock(${PRUNE_LOCK}) AS "held"`);
const oldestDelivery = statement(
  "prune_oldest_delivery",
  `SELECT ${ms("created_at")} AS "at" FROM webhook_deliveries ORDER BY seq LIMIT 1`,
);
const latestEvent = statement("prune_latest_event", `SELECT max(seq)::float8 AS "seq" FROM order_events`);
const events = statement(
  "prune_events_batch",
  `SELECT t.seq::float8 AS "seq", ${ms("t.at")} AS "at" FROM order_events t WHERE t.seq > $1 ORDER BY t.seq LIMIT $2`,
);
const deleteEvents = statement("prune_events", "DELETE FROM order_events WHERE seq > $1 AND seq <= $2");
const latestDelivery = statement(
  "prune_latest_delivery",
  `SELECT max(seq)::float8 AS "seq" FROM webhook_deliveries`,
);
const deliveries = statement(
  "prune_deliveries_batch",
  `SELECT t.seq::float8 AS "seq", ${ms("t.created_at")} AS "at" FROM webhook_deliveries t
   WHERE t.seq > $1 ORDER BY t.seq LIMIT $2`,
);
// A delivery still to be sent is work, not history: it stays whatever its age.
const deleteDeliveries = statement(
  "prune_deliveries",
  "DELETE FROM webhook_deliveries WHERE seq > $1 AND seq <= $2 AND status <> 'pending'",
);
// Orders are walked up to the order of the oldest event kept: those after it may have history.
const orderBound = statement(
  "prune_order_bound",
  `SELECT least((SELECT max(seq) FROM orders),
     (SELECT order_seq FROM order_events ORDER BY seq LIMIT 1))::float8 AS "seq"`,
);
const orders = statement(
  "prune_orders_batch",
  `SELECT t.seq::float8 AS "seq", ${ms("t.created_at")} AS "at" FROM orders t WHERE t.seq > $1 ORDER BY t.seq LIMIT $2`,
);
const deleteOrders = statement(
  "prune_orders",
  `DELETE FROM orders o WHERE seq > $1 AND seq <= $2 AND status = ANY($3::text[])
     AND NOT EXISTS (SELECT 1 FROM order_events e WHERE e.order_seq = o.seq)`,
);
const oldestEvent = statement(
  "oldest_event",
  `SELECT t.seq::float8 AS "seq", ${ms("t.at")} AS "at" FROM order_events t ORDER BY t.seq LIMIT 1`,
);

/** One batch in its own transaction under the pruning lock; `busy` when another replica holds it. */
async function inTurn(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<PruneResult>) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const held = (await client.query<{ held: boolean }>(lock([]))).rows[0]?.held;
    const result: PruneResult = held ? await work(client) : { deleted: 0, busy: true };
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Deletes the run of the batch's rows that it may take; `remove` deletes up to a seq. */
async function pruneRun(
  client: pg.PoolClient,
  batch: PruneBatch,
  read: (values: unknown[]) => pg.QueryConfig,
  latest: number | null | undefined,
  remove: (last: number) => Promise<number>,
): Promise<PruneResult> {
  const rows = (await client.query<Row>(read([batch.after, batch.limit]))).rows;
  const run = prunableRun(rows, batch, latest ?? 0);
  if (run.last === undefined) return { deleted: 0 };
  const deleted = await remove(run.last);
  return run.more ? { deleted, next: run.last } : { deleted };
}

const first = async <T>(client: pg.PoolClient, query: pg.QueryConfig) =>
  (await client.query<T & pg.QueryResultRow>(query)).rows[0];

/** The retention port over `adapter`. */
export function createRetentionStore({ pool, guarded }: Adapter) {
  const deleted = async (client: pg.PoolClient, query: pg.QueryConfig) =>
    (await client.query(query)).rowCount ?? 0;
  return {
    pruneEvents: (batch: PruneBatch) =>
      guarded("prune", () =>
        inTurn(pool, async (client) => {
          const held = (await first<{ at: number }>(client, oldestDelivery([])))?.at;
          const before = held === undefined ? batch.before : Math.min(batch.before, held - DELIVERY_HOLD_MS);
          const latest = (await first<{ seq: number | null }>(client, latestEvent([])))?.seq;
          return pruneRun(client, { ...batch, before }, events, latest, (last) =>
            deleted(client, deleteEvents([batch.after, last])),
          );
        }),
      ),
    pruneDeliveries: (batch: PruneBatch) =>
      guarded("prune", () =>
        inTurn(pool, async (client) => {
          const latest = (await first<{ seq: number | null }>(client, latestDelivery([])))?.seq;
          return pruneRun(client, batch, deliveries, latest, (last) =>
            deleted(client, deleteDeliveries([batch.after, last])),
          );
        }),
      ),
    pruneOrders: (batch: PruneBatch, final: OrderStatus[]) =>
      guarded("prune", () =>
        inTurn(pool, async (client) => {
          const bound = (await first<{ seq: number | null }>(client, orderBound([])))?.seq;
          return pruneRun(client, batch, orders, bound, (last) =>
            deleted(client, deleteOrders([batch.after, last, final])),
          );
        }),
      ),
    oldestEvent: () =>
      guarded(
        "read",
        async (): Promise<OldestEvent | undefined> => (await pool.query<Row>(oldestEvent([]))).rows[0],
      ),
  };
}
