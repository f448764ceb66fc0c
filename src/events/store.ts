/**
 * The events feature's storage port: reading the history of transitions that the adapters record
 * in the transaction of each transition. Every adapter under src/db/ implements it;
 * test/storage-contract.ts defines its behaviour.
 */
import type { EventQuery, OrderEvent } from "../records/order.ts";

export type { EventQuery };

/** What the events feature needs from storage. */
export type EventStore = {
  /**
   * Up to `limit` committed events after `after`, in stream order: an event is returned only once
   * every event before it in that order is committed, so a reader that keeps the last position it
   * saw never misses one. On one SQLite file stream order is `seq` order; on PostgreSQL it is commit
   * order, which is `seq` order for the events of one order.
   */
  readEvents(query: EventQuery): Promise<OrderEvent[]>;
  /** The position of the latest event in stream order (0: none). */
  latestEventSeq(): Promise<number>;
  /**
   * Calls `listener` after events may have been committed, by this process or another one sharing
   * the database, so a reader can look at once instead of at its next poll. Returns the
   * unsubscribe function.
   */
  subscribe(listener: () => void): () => void;
};
