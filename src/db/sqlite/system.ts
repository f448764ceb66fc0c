/**
 * The system port on SQLite: the counts behind /metrics (read from the counter rows) and, behind
 * /ready, a probe write through the writer thread and the outcomes of the real writes.
 */
import type { Adapter } from "./context.ts";

/** The system port over `adapter`. */
export function createSystemStore({ writer, reads }: Adapter) {
  return {
    countOrders: async () => reads.countOrders(),
    probeWrite: () => writer.run("probeWrite"),
    // Readiness reads the real writes too (src/system/readiness.ts).
    recentWrites: () => writer.lastOutcomes(),
  };
}
