/**
 * The events port on PostgreSQL: the stream's reads (events-sql.ts) and its wake-ups, this
 * process's own writes at once and the other replicas' through the EVENTS channel.
 */
import type { EventQuery, OrderEvent } from "../../records/order.ts";
import type { Adapter } from "./context.ts";
import * as ev from "./events-sql.ts";
import { EVENTS } from "./notify.ts";

/** The events port over `adapter`. */
export function createEventStore(adapter: Adapter) {
  const { pool, guarded, eventListeners, listener } = adapter;
  return {
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
  };
}
