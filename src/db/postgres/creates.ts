/**
 * Batched creates of the PostgreSQL adapter: the creates that arrive in one event-loop turn share
 * one multi-row INSERT (one round trip, one commit), which inserts their events too (each create
 * brings its transition).
 * At most MAX_IN_FLIGHT INSERTs are on their way at once; creates arriving meanwhile wait for the
 * next one to leave, so under load batches grow instead of statements multiplying (each statement
 * and commit costs the database the same whether it carries one order or a hundred).
 * Of several creates of one order_id in a batch the first one is inserted; the others, like creates
 * of an order_id already stored, get the stored order.
 */
import type pg from "pg";
import { storageUnavailable } from "../../kit/errors.ts";
import type { CreateOutcome, NewOrder, Order, Transition } from "../../records/order.ts";
import * as q from "./queue-sql.ts";

// Enough to keep the round trips overlapped (one commit's fsync while the next batch is built);
// measured in docs/PERFORMANCE.md.
const MAX_IN_FLIGHT = 4;

type PendingCreate = {
  order: NewOrder;
  transition: Transition;
  resolve: (outcome: CreateOutcome) => void;
  reject: (e: unknown) => void;
};

/**
 * Returns `create`, which queues an order for the INSERT at the end of the turn, and `flush`, which
 * sends what is queued now. `created` runs after a batch that inserted orders has committed.
 */
export function createBatcher(
  pool: pg.Pool,
  created: () => void,
  log: (message: string, error: string) => void,
) {
  let creates: PendingCreate[] = [];
  let inFlight = 0;
  let scheduled = false;

  /** Sends what is queued, unless MAX_IN_FLIGHT INSERTs are out (the last one to return sends it). */
  function send(): void {
    scheduled = false;
    if (inFlight >= MAX_IN_FLIGHT || creates.length === 0) return;
    inFlight++;
    void flush().finally(() => {
      inFlight--;
      send();
    });
  }

  async function flush(): Promise<void> {
    const batch = creates;
    creates = [];
    if (batch.length === 0) return;
    const first = new Map<string, PendingCreate>();
    for (const create of batch) if (!first.has(create.order.orderId)) first.set(create.order.orderId, create);
    const unique = [...first.values()].map(({ order, transition }) => ({ order, created: transition }));
    let ids: Set<string>;
    try {
      const inserted = await pool.query<{ orderId: string }>(q.insertOrders(unique));
      ids = new Set(inserted.rows.map((row) => row.orderId));
    } catch (error) {
      log("PostgreSQL insert failed", (error as Error).message);
      const failure = storageUnavailable(
        "The order could not be stored; nothing was saved. Retry the request.",
      );
      for (const { reject } of batch) reject(failure);
      return;
    }
    if (ids.size > 0) created();
    const isInserted = (order: NewOrder) =>
      ids.has(order.orderId) && first.get(order.orderId)?.order === order;
    // The inserted ones are committed: they get their 201 whatever happens to the read below.
    const others = batch.filter(({ order, resolve }) => {
      if (!isInserted(order)) return true;
      resolve({ created: true });
      return false;
    });
    if (others.length === 0) return;
    try {
      const existing = new Map<string, Order>();
      const wanted = [...new Set(others.map(({ order }) => order.orderId))];
      for (const row of (await pool.query<Order>(q.selectOrders([wanted]))).rows)
        existing.set(row.orderId, row);
      for (const { order, resolve, reject } of others) {
        const found = existing.get(order.orderId);
        if (found) resolve({ created: false, existing: found });
        else reject(new Error(`order ${order.orderId} neither inserted nor found`));
      }
    } catch (error) {
      // Replays of orders already stored: nothing of theirs was written, and a retry answers 200.
      log("PostgreSQL read of existing orders failed", (error as Error).message);
      const failure = storageUnavailable(
        "The existing order could not be read; nothing was changed. Retry the request.",
      );
      for (const { reject } of others) reject(failure);
    }
  }

  return {
    /** Queues `order`, created with `transition`, for the INSERT at the end of this event-loop turn. */
    create(order: NewOrder, transition: Transition): Promise<CreateOutcome> {
      return new Promise<CreateOutcome>((resolve, reject) => {
        if (!scheduled) {
          scheduled = true;
          setImmediate(send);
        }
        creates.push({ order, transition, resolve, reject });
      });
    },
    flush,
  };
}
