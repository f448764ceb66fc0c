/**
 * Wires one service instance: database + migrations, the writer thread, the queue and its worker
 * threads, and the HTTP app. `main.ts` boots it from the environment; tests boot it on temp files.
 */
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import { openDatabase } from "./db/client.ts";
import { DatabaseWriter } from "./db/writer.ts";
import { MAX_BODY_BYTES } from "./json-body.ts";
import type { Logger } from "./logger.ts";
import { createOrderStore } from "./orders/store.ts";
import { Dispatcher } from "./queue/dispatcher.ts";

/** Opens the database and builds everything; nothing listens or runs until `start`. */
export function createServer(config: Config, log: Logger, now: () => number = Date.now) {
  // The main thread's connection: migrations first, then only reads (writes go to the writer thread).
  const db = openDatabase(config.databasePath, config.sqliteSynchronous);
  const writer = new DatabaseWriter(config.databasePath, config.sqliteSynchronous, {
    log: (message, error) => log("error", message, { error }),
    // Without its writer the service can store nothing: exit, so the supervisor restarts it (no
    // order was answered that is not committed, and start-up takes up whatever was in flight).
    onExit: (reason) => {
      log("error", "database writer stopped; exiting", { reason });
      process.exit(1);
    },
  });
  const store = createOrderStore(db);
  const dispatcher = new Dispatcher({
    writer,
    now,
    workers: config.workers,
    concurrency: config.workerConcurrency,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    processing: { processingTimeMs: config.processingTimeMs, failureRate: config.processingFailureRate },
    log,
  });
  const app = createApp({
    orders: { store, writer, now, onOrderStored: () => dispatcher.wake() },
    system: { probeWrite: () => writer.run("touch"), workers: () => dispatcher.health() },
    log,
  });

  return {
    app,
    db,
    dispatcher,

    /** Takes up orders a dead process left processing, starts the workers, then listens. */
    start(): URL {
      // The writer runs calls in order, so this comes before the dispatcher's first claim.
      void writer.run("releaseAllOrders", now()).then(
        (released) => {
          if (released > 0) log("warn", "took up orders a previous process left processing", { released });
        },
        (error) => log("error", "could not take up orders left processing", { error: String(error) }),
      );
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
      await dispatcher.stop(config.shutdownTimeoutMs);
      await writer.close();
      db.$client.close();
    },
  };
}

/** A wired service instance. */
export type Server = ReturnType<typeof createServer>;
