/**
 * The retention port on SQLite: each batch one operation of the writer thread (retention-sql.ts),
 * so it joins the group commit of the intake around it; the oldest event read on the read-only
 * connection. One process owns the file, so no lock between pruners is needed.
 */
import type { OrderStatus } from "../../records/order.ts";
import type { PruneBatch } from "../../records/retention.ts";
import type { Adapter } from "./context.ts";

/** The retention port over `adapter`. */
export function createRetentionStore({ writer, reads }: Adapter) {
  return {
    pruneEvents: (batch: PruneBatch) => writer.run("pruneEvents", batch),
    pruneDeliveries: (batch: PruneBatch) => writer.run("pruneDeliveries", batch),
    pruneOrders: (batch: PruneBatch, final: OrderStatus[]) => writer.run("pruneOrders", batch, final),
    oldestEvent: async () => reads.oldestEvent(),
  };
}
