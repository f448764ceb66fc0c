/**
 * The queue port on SQLite: the pump, lease renewal, rescue and release, each an operation of
 * writes.ts (queue-sql.ts) on the writer thread. The orders a dead process left are released at
 * open (storage.ts), not here.
 */
import type { Adapter } from "./context.ts";
import type { WriteOps } from "./writes.ts";

/** The queue port over `adapter`. */
export function createQueueStore({ writer }: Adapter) {
  return {
    settleAndClaim: (args: Parameters<WriteOps["settleAndClaim"]>[0]) => writer.run("settleAndClaim", args),
    recordSteps: (args: Parameters<WriteOps["recordSteps"]>[0]) => writer.run("recordSteps", args),
    renewLeases: (args: { held: { seq: number; owner: string }[]; until: number }) =>
      writer.run("renewLeases", args),
    releaseOrders: (args: Parameters<WriteOps["releaseOrders"]>[0]) => writer.run("releaseOrders", args),
    releaseExpiredLeases: (args: Parameters<WriteOps["releaseExpiredLeases"]>[0]) =>
      writer.run("releaseExpiredLeases", args),
    // One process per file: every new order is this process's own, and wakes its queue directly.
    subscribe: (_listener: () => void) => () => {},
  };
}
