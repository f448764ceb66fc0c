/**
 * The pruner: deletes history older than its retention in the background, oldest first, in
 * bounded batches with a pause between them, so intake never waits for more than one batch (on
 * SQLite a batch is one operation of the writer's group commit; on PostgreSQL one short
 * transaction, one replica at a time). A pass runs every `intervalMs`: webhook deliveries first
 * (an event is kept while a delivery may refer to it), then events, then, when an order retention
 * is set, orders in a final status whose events are gone.
 */
import { FINAL_STATUSES } from "../lifecycle.ts";
import type { PruneBatch, PruneResult, RetentionStore } from "./store.ts";

/** What a pass deletes. */
export const PRUNED_TABLES = ["deliveries", "events", "orders"] as const;
/** One of `PRUNED_TABLES`. */
export type PrunedTable = (typeof PRUNED_TABLES)[number];

/** What each table lost in one pass. */
export type PassResult = Record<PrunedTable, number>;

/** The pruner's settings (config.ts's retentions, in ms). */
export type PrunerOptions = {
  eventRetentionMs: number;
  deliveryRetentionMs: number;
  /** Undefined: orders are kept forever. */
  orderRetentionMs: number | undefined;
  now: () => number;
  /** Rows per batch. */
  batch?: number;
  /** Pause between two batches of a pass, so intake has the database in between. */
  pauseMs?: number;
  /** Called after each batch that deleted rows (metrics). */
  onPruned?: (table: PrunedTable, rows: number) => void;
  onError: (error: unknown) => void;
};

// Measured beside full-speed intake (docs/PERFORMANCE.md, "Retention"): 1,000 rows take the
// SQLite writer ~2 ms; with 10 ms between batches a pass deletes up to ~80,000 rows a second.
const BATCH = 1000;
const PAUSE_MS = 10;

/**
 * How often a pass runs: a tenth of the shortest retention (nothing waits much past its limit),
 * between 1 s and a minute.
 */
export function pruneIntervalMs(
  options: Pick<PrunerOptions, "eventRetentionMs" | "deliveryRetentionMs" | "orderRetentionMs">,
): number {
  const shortest = Math.min(
    options.eventRetentionMs,
    options.deliveryRetentionMs,
    options.orderRetentionMs ?? Infinity,
  );
  return Math.min(60_000, Math.max(1000, Math.floor(shortest / 10)));
}

/** Runs passes in the background (`start`/`stop`), or one now (`runOnce`, the CLI's `prune`). */
export class Pruner {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<PassResult> | undefined;
  #stopped = true;
  // Set by stop(): a pass in flight ends after its current batch.
  #halted = false;

  constructor(
    private readonly store: RetentionStore,
    private readonly options: PrunerOptions,
  ) {}

  /** Starts the passes: the first after one interval, each next one an interval after the last ended. */
  start(): void {
    this.#stopped = false;
    this.#halted = false;
    this.#schedule();
  }

  /** Stops after the batch in flight, if any; resolves once it has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#halted = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
  }

  /** One pass over every table now; resolves with what it deleted. */
  runOnce(): Promise<PassResult> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      try {
        await this.runOnce();
      } catch (error) {
        this.options.onError(error);
      }
      this.#schedule();
    }, pruneIntervalMs(this.options));
  }

  async #pass(): Promise<PassResult> {
    const { store, options } = this;
    const now = options.now();
    const result: PassResult = { deliveries: 0, events: 0, orders: 0 };
    result.deliveries = await this.#prune("deliveries", now - options.deliveryRetentionMs, (batch) =>
      store.pruneDeliveries(batch),
    );
    result.events = await this.#prune("events", now - options.eventRetentionMs, (batch) =>
      store.pruneEvents(batch),
    );
    if (options.orderRetentionMs !== undefined)
      result.orders = await this.#prune("orders", now - options.orderRetentionMs, (batch) =>
        store.pruneOrders(batch, [...FINAL_STATUSES]),
      );
    return result;
  }

  /** Batches up `table` until one says it is done (or another replica is pruning). */
  async #prune(table: PrunedTable, before: number, run: (batch: PruneBatch) => Promise<PruneResult>) {
    const limit = this.options.batch ?? BATCH;
    let total = 0;
    let after = 0;
    for (;;) {
      const { deleted, next } = await run({ before, after, limit });
      total += deleted;
      if (deleted > 0) this.options.onPruned?.(table, deleted);
      if (next === undefined || this.#halted) return total;
      after = next;
      await Bun.sleep(this.options.pauseMs ?? PAUSE_MS);
    }
  }
}
