/**
 * Retention's counter: the rows the pruner deleted, by table (src/retention/pruner.ts). A pass
 * on PostgreSQL runs on one replica at a time, so summed over replicas it counts each row once.
 */
import { Counter, type Registry } from "prom-client";
import type { PrunedTable } from "../retention/pruner.ts";

/** Registers the counter; the returned function records one batch. */
export function createRetentionMetrics(registry: Registry): (table: PrunedTable, rows: number) => void {
  const pruned = new Counter({
    name: "history_pruned_rows_total",
    help: "Rows deleted by retention (EVENT_RETENTION_DAYS, DELIVERY_RETENTION_DAYS, ORDER_RETENTION_DAYS), by table",
    labelNames: ["table"] as const,
    registers: [registry],
  });
  return (table, rows) => pruned.inc({ table }, rows);
}
