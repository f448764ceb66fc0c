/**
 * The dashboard's storage port: each replica's recent activity, published every second and read by
 * whichever replica serves a dashboard, so the page shows the whole system; and the latest failed
 * orders. Every adapter under src/db/ implements it; test/storage-contract.ts defines it.
 */

import type { ActivityReport } from "../records/activity.ts";
import type { Order } from "../records/order.ts";

export type { ActivityReport };

/** What the dashboard needs from storage. */
export type DashboardStore = {
  /** Stores this replica's latest report (replacing its previous one). */
  publishActivity(report: ActivityReport): Promise<void>;
  /** The latest report of every replica that published at or after `since` (ms). */
  readActivity(since: number): Promise<ActivityReport[]>;
  /** Up to `limit` failed orders, the most recently created first. */
  listRecentFailures(limit: number): Promise<Order[]>;
};
