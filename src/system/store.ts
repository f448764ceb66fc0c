/**
 * The system feature's storage port: the counts behind `GET /metrics` and the probe behind
 * `/ready`. Every adapter under src/db/ implements it; test/storage-contract.ts defines it.
 */
import type { OrderStatus } from "../records/order.ts";

/** Orders per status and the summed processing time of the completed ones. */
export type OrderCounts = { byStatus: Record<OrderStatus, number>; completedProcessingMs: number };

/** What the system routes need from storage. */
export type SystemStore = {
  /** Orders per status (every status present, 0 when none) and the sum of completedAt - startedAt
   * over completed orders; cheap at any table size. */
  countOrders(): Promise<OrderCounts>;
  /** Resolves when the database accepts a committed write; rejects with a 503 otherwise. */
  probeWrite(): Promise<void>;
  /**
   * When this process's writes last committed and last failed, if the store tracks them (a store
   * with one writer does); readiness.ts decides from them when a probe is needed.
   */
  recentWrites?(): { succeededAt?: number; failed?: { at: number; message: string } };
};
