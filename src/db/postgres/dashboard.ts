/**
 * The dashboard port on PostgreSQL: replicas share the database, so each upserts its activity
 * report and any one reads them all (dashboard-sql.ts).
 */

import type { ActivityReport } from "../../records/activity.ts";
import type { Order } from "../../records/order.ts";
import type { Adapter } from "./context.ts";
import * as d from "./dashboard-sql.ts";

/** The dashboard port over `adapter`. */
export function createDashboardStore({ pool, guarded }: Adapter) {
  return {
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
  };
}
