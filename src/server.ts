/**
 * Wires one service instance: database + migrations, the single writer, the queue and its worker
 * threads, and the HTTP app. `main.ts` boots it from the environment; tests boot it on temp files.
 */
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import { closeDatabase, openDatabase, openWalSync } from "./db/client.ts";
import { WriteBatcher } from "./db/write-batcher.ts";
import { MAX_BODY_BYTES } from "./json-body.ts";
import type { Logger } from "./logger.ts";
import { createOrderStore } from "./orders/store.ts";
import { Dispatcher } from "./queue/dispatcher.ts";
import { createQueueStore } from "./queue/sql.ts";

/** Opens the database and builds everything; nothing listens or runs until `start`. */
export function createServer(config: Config, log: Logger, now: () => number = Date.now) {
  // FULL and EXTRA: the batcher fsyncs the WAL itself, off the event loop, before answering
  // (see write-batcher.ts); SQLite's in-commit fsync would be redundant, so the connection runs NORMAL.
  const syncsItself = config.sqliteSynchronous === "FULL" || config.sqliteSynchronous === "EXTRA";
  const db = openDatabase(config.databasePath, syncsItself ? "NORMAL" : config.sqliteSynchronous);
  const wal = syncsItself ? openWalSync(db) : undefined;
  const queue = createQueueStore(db);
  const batcher = new WriteBatcher(db, {
    fsync: wal?.fsync,
    log: (message, error) => log("error", message, { error: String(error) }),
  });
  const store = createOrderStore(db);
  const dispatcher = new Dispatcher({
    queue,
    batcher,
    now,
    workers: config.workers,
    concurrency: config.workerConcurrency,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    processing: { processingTimeMs: config.processingTimeMs, failureRate: config.processingFailureRate },
    log,
  });
  const app = createApp({
    orders: { store, batcher, now, onOrderStored: () => dispatcher.wake() },
    system: { probeWrite: () => batcher.run(() => store.touchMetrics()), workers: () => dispatcher.health() },
    log,
  });

  return {
    app,
    db,
    dispatcher,

    /** Takes up orders a dead process left processing, starts the workers, then listens. */
    start(): URL {
      const released = queue.releaseAllOrders(now());
      if (released > 0) log("warn", "took up orders a previous process left processing", { released });
      dispatcher.start();
      app.listen({ hostname: config.host, port: config.port, maxRequestBodySize: MAX_BODY_BYTES * 2 });
      const url = new URL(
        `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${app.server?.port}`,
      );
      log("info", "order service listening", {
        url: url.href,
        database: config.databasePath,
        workers: config.workers,
      });
      return url;
    },

    /**
     * Graceful stop: stop accepting and let in-flight requests finish, let workers finish their
     * orders within SHUTDOWN_TIMEOUT_MS (the rest go back to pending), checkpoint and close.
     */
    async stop(): Promise<void> {
      await app.server?.stop();
      await batcher.drain();
      await dispatcher.stop(config.shutdownTimeoutMs);
      await batcher.drain();
      wal?.close();
      closeDatabase(db);
    },
  };
}

/** A wired service instance. */
export type Server = ReturnType<typeof createServer>;
