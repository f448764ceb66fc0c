/**
 * The dashboard port on SQLite. One process per file: the activity of "every replica" is this
 * process's own, kept in memory (lost at restart, like the process it describes); the recent
 * failures are read on the read-only connection.
 */
import type { ActivityReport } from "../../records/activity.ts";
import type { Adapter } from "./context.ts";

/** The dashboard port over `adapter`, with its own activity map. */
export function createDashboardStore({ reads }: Adapter) {
  const activity = new Map<string, ActivityReport>();
  return {
    publishActivity: async (report: ActivityReport) => {
      activity.set(report.replica, report);
    },
    readActivity: async (since: number) => [...activity.values()].filter((report) => report.at >= since),
    listRecentFailures: async (limit: number) => reads.listRecentFailures(limit),
  };
}
