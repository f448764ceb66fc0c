/**
 * The retention feature's storage port: deleting the oldest history a bounded batch at a time,
 * so a pass never holds the database for long. Every adapter under src/db/ implements it;
 * test/storage-contract.ts defines its behaviour.
 */
import type { OrderStatus } from "../records/order.ts";
import type { OldestEvent, PruneBatch, PruneResult } from "../records/retention.ts";

export type { OldestEvent, PruneBatch, PruneResult };

/** What the pruner needs from storage. */
export type RetentionStore = {
  /**
   * Deletes the oldest events of the batch recorded before `before`, except any a kept webhook
   * delivery may refer to and the newest event of all.
   */
  pruneEvents(batch: PruneBatch): Promise<PruneResult>;
  /** Deletes the oldest delivered or dead webhook deliveries of the batch created before `before`. */
  pruneDeliveries(batch: PruneBatch): Promise<PruneResult>;
  /**
   * Deletes the oldest orders of the batch created before `before` that are in one of `final` and
   * have no events left, never the newest order of all.
   */
  pruneOrders(batch: PruneBatch, final: OrderStatus[]): Promise<PruneResult>;
  /** The oldest event kept, if any. */
  oldestEvent(): Promise<OldestEvent | undefined>;
};
