/**
 * `prune`: one retention pass now (docs/OPERATING.md, "Retention"), with the retentions of the
 * environment, on the database itself: the same pruner a service runs in the background, so the
 * same batches and, on PostgreSQL, the same lock (beside running replicas, one prunes at a time).
 * On SQLite it needs the file to itself: a running service already prunes it every pass.
 */
import type { Config } from "../config.ts";
import { PRUNED_TABLES, Pruner } from "../retention/pruner.ts";
import type { Storage } from "../storage.ts";

/** Prunes what the configuration's retentions allow now on `storage`, then closes it; one line per table. */
export async function prune(config: Config, storage: Storage, say: (line: string) => void): Promise<void> {
  try {
    const pruner = new Pruner(storage.retention, {
      eventRetentionMs: config.eventRetentionMs,
      deliveryRetentionMs: config.deliveryRetentionMs,
      orderRetentionMs: config.orderRetentionMs,
      now: Date.now,
      onError: () => {},
      // Nobody waits on this process's intake: no pause between batches.
      pauseMs: 0,
    });
    const pruned = await pruner.runOnce();
    for (const table of PRUNED_TABLES) {
      const kept =
        table === "orders" && config.orderRetentionMs === undefined
          ? " (ORDER_RETENTION_DAYS unset: orders are kept)"
          : "";
      say(`pruned ${pruned[table]} ${table}${kept}`);
    }
    const oldest = await storage.retention.oldestEvent();
    say(`oldest event kept: ${oldest ? `#${oldest.seq} of ${new Date(oldest.at).toISOString()}` : "none"}`);
  } finally {
    await storage.close();
  }
}
