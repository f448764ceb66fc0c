/**
 * Retention on SQLite: the oldest rows deleted a bounded batch at a time, as operations of the
 * writer thread (writes.ts), so each batch shares a group commit with the intake around it and
 * intake never waits for more than one batch. Each batch reads the next rows up the primary key
 * and deletes a range of it: no scan of what stays, and no index beyond the ones intake keeps.
 */
import type { OrderStatus } from "../../records/order.ts";
import { type PruneBatch, type PruneResult, prunableRun } from "../../records/retention.ts";
import type { Db } from "./client.ts";

// An event is kept while a kept delivery may refer to it: deliveries are inserted with their
// event, so events recorded this long before the oldest kept delivery are not referred to.
const DELIVERY_HOLD_MS = 60_000;

type Row = { seq: number; at: number };

/** The retention writes, prepared on the writer thread's connection. */
export function createRetentionWrites(db: Db) {
  const sqlite = db.$client;
  const oldestDelivery = sqlite.query<{ at: number }, []>(
    "SELECT created_at AS at FROM webhook_deliveries ORDER BY seq LIMIT 1",
  );
  const latestEvent = sqlite.query<{ seq: number | null }, []>("SELECT max(seq) AS seq FROM order_events");
  const events = sqlite.query<Row, [number, number]>(
    "SELECT seq, at FROM order_events WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  const deleteEvents = sqlite.query("DELETE FROM order_events WHERE seq > ? AND seq <= ?");
  const latestDelivery = sqlite.query<{ seq: number | null }, []>(
    "SELECT max(seq) AS seq FROM webhook_deliveries",
  );
  const deliveries = sqlite.query<Row, [number, number]>(
    "SELECT seq, created_at AS at FROM webhook_deliveries WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  // A delivery still to be sent is work, not history: it stays whatever its age.
  const deleteDeliveries = sqlite.query(
    "DELETE FROM webhook_deliveries WHERE seq > ? AND seq <= ? AND status <> 'pending'",
  );
  // Orders are walked up to the order of the oldest event kept: those after it may have history.
  const orderBound = sqlite.query<{ seq: number | null }, []>(
    `SELECT min((SELECT max(seq) FROM orders),
       coalesce((SELECT order_seq FROM order_events ORDER BY seq LIMIT 1), 9007199254740991)) AS seq`,
  );
  const orders = sqlite.query<Row, [number, number]>(
    "SELECT seq, created_at AS at FROM orders WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  const deleteOrders = sqlite.query(
    `DELETE FROM orders WHERE seq > ? AND seq <= ?
       AND status IN (SELECT value FROM json_each(?))
       AND NOT EXISTS (SELECT 1 FROM order_events e WHERE e.order_seq = orders.seq)`,
  );

  /** Deletes, with `remove`, the run of `rows` that `batch` may take. */
  const prune = (rows: Row[], batch: PruneBatch, latest: number | null, remove: (last: number) => number) => {
    const run = prunableRun(rows, batch, latest ?? 0);
    if (run.last === undefined) return { deleted: 0 } satisfies PruneResult;
    const deleted = remove(run.last);
    return (run.more ? { deleted, next: run.last } : { deleted }) satisfies PruneResult;
  };

  return {
    /** Deletes the oldest events of `batch` that no kept delivery may refer to; never the newest. */
    pruneEvents(batch: PruneBatch): PruneResult {
      const held = oldestDelivery.get()?.at;
      const before = held === undefined ? batch.before : Math.min(batch.before, held - DELIVERY_HOLD_MS);
      const rows = events.all(batch.after, batch.limit);
      return prune(rows, { ...batch, before }, latestEvent.get()?.seq ?? null, (last) =>
        Number(deleteEvents.run(batch.after, last).changes),
      );
    },

    /** Deletes the oldest sent or dead deliveries of `batch`; pending ones stay. */
    pruneDeliveries(batch: PruneBatch): PruneResult {
      return prune(
        deliveries.all(batch.after, batch.limit),
        batch,
        latestDelivery.get()?.seq ?? null,
        (last) => Number(deleteDeliveries.run(batch.after, last).changes),
      );
    },

    /** Deletes the oldest orders of `batch` that are in one of `final` and whose history is gone. */
    pruneOrders(batch: PruneBatch, final: OrderStatus[]): PruneResult {
      const statuses = JSON.stringify(final);
      return prune(orders.all(batch.after, batch.limit), batch, orderBound.get()?.seq ?? null, (last) =>
        Number(deleteOrders.run(batch.after, last, statuses).changes),
      );
    },
  };
}
