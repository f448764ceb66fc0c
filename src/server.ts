/**
 * Wires one service instance: storage (the SQLite adapter), the queue and its worker threads, and
 * the HTTP app. `main.ts` boots it from the environment; tests boot it on temp files. It never
 * exits the process: fatal conditions go to `onFatal`, start-up failures are thrown.
 */
import { createApp } from "./app.ts";
import { type Config, StartupError } from "./config.ts";
import { FileLockedError, openSqliteStorage } from "./db/sqlite/storage.ts";
import { toAppError, toErrorBody } from "./error-envelope.ts";
import { MAX_BODY_BYTES } from "./json-body.ts";
import type { Logger } from "./logger.ts";
import { createMetrics } from "./metrics/registry.ts";
import { Dispatcher } from "./queue/dispatcher.ts";
import type { Storage } from "./storage.ts";

/** What the process is told by a running service. */
export type ServerHooks = {
  /** The service cannot go on (its database writer failed); the process should exit 1. */
  onFatal: (reason: string) => void;
  now?: () => number;
};

/** Opens the storage (the one adapter today: SQLite at DATABASE_PATH). */
async function openStorage(config: Config, log: Logger, onFatal: (reason: string) => void): Promise<Storage> {
  try {
    return await openSqliteStorage(
      { path: config.databasePath, synchronous: config.sqliteSynchronous },
      { log: (message, error) => log("error", message, { error }), onFatal },
    );
  } catch (error) {
    const path = config.databasePath;
    if (error instanceof FileLockedError) {
      throw new StartupError(
        "DATABASE_PATH",
        `database ${path} is in use by another running order service (${error.message}); ` +
          "stop that one first, or point DATABASE_PATH at another file",
      );
    }
    // A directory, a file that is not a database, a read-only place, a name too long: say which
    // setting to fix and what the system said, never a stack trace.
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupError("DATABASE_PATH", `cannot open the database at ${path}: ${reason}`);
  }
}

/**
 * The number of pending orders, for backpressure: read at most every 100 ms (a read of the
 * running totals) and answered from the last read meanwhile, so a request never waits for it.
 */
function cachedPendingOrders(storage: Storage, log: Logger): () => number {
  let pending = 0;
  let readAt = 0;
  let reading = false;
  return () => {
    if (!reading && Date.now() - readAt > 100) {
      reading = true;
      storage.system.countOrders().then(
        (counts) => {
          pending = counts.byStatus.pending;
          readAt = Date.now();
          reading = false;
        },
        (error) => {
          log("error", "could not read the pending orders", { error: String(error) });
          reading = false;
        },
      );
    }
    return pending;
  };
}

/** Opens the storage and builds everything; nothing listens or runs until `start`. */
export async function createServer(config: Config, log: Logger, hooks: ServerHooks) {
  const now = hooks.now ?? Date.now;
  const storage = await openStorage(config, log, hooks.onFatal);
  const dispatcher = new Dispatcher({
    queue: storage.queue,
    now,
    workers: config.workers,
    concurrency: config.workerConcurrency,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    processing: {
      processingTimeMs: config.processingTimeMs,
      failureRate: config.processingFailureRate,
      timeoutMs: config.processingTimeoutMs,
      module: config.processOrderModule,
    },
    log,
  });
  const metrics = createMetrics();
  const app = createApp({
    orders: { store: storage.orders, now, onOrderStored: () => dispatcher.wake() },
    system: { store: storage.system, workers: () => dispatcher.pool.health() },
    http: {
      config,
      log,
      pendingOrders: cachedPendingOrders(storage, log),
      onResponse: (_info) => {}, // the request metrics go here
    },
    log,
  });

  /** Binds the port, never sharing it: a second service on the same port is refused, not merged. */
  function listen(): URL {
    try {
      app.listen({
        hostname: config.host,
        port: config.port,
        maxRequestBodySize: MAX_BODY_BYTES * 2,
        reusePort: false,
        // The last line of defence: whatever escapes Elysia gets the envelope, never Bun's error
        // page (which shows source lines and paths).
        error: (error) => {
          const body = toErrorBody(toAppError(error, log));
          return Response.json(body, { status: 500 });
        },
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      const reason = code === "EADDRINUSE" ? "is already in use" : `cannot be used (${String(error)})`;
      throw new StartupError("PORT", `port ${config.port} on ${config.host} ${reason}`);
    }
    return new URL(`http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${app.server?.port}`);
  }

  /**
   * Stops accepting and lets requests in flight finish, but for at most `timeoutMs`: then every
   * connection still open is closed (a client holding an unfinished body would otherwise keep the
   * process alive past the supervisor's grace period).
   */
  async function stopHttp(timeoutMs: number): Promise<void> {
    const server = app.server;
    if (!server) return;
    const drained = await Promise.race([
      server.stop().then(() => true),
      Bun.sleep(timeoutMs).then(() => false),
    ]);
    if (!drained) {
      log("warn", "connections still open at the shutdown deadline; closing them", {
        connections: server.pendingRequests,
      });
      await server.stop(true);
    }
  }

  return {
    app,
    storage,
    dispatcher,

    /** Listens, takes up orders a dead process left processing, then starts the workers. */
    async start(): Promise<URL> {
      const url = listen();
      // Storage holds the database for this process alone, so any processing order is a dead one's.
      const released = await storage.queue.releaseAllOrders(now());
      if (released > 0) log("warn", "took up orders a previous process left processing", { released });
      dispatcher.start();
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
      await Promise.all([stopHttp(config.shutdownTimeoutMs), dispatcher.stop(config.shutdownTimeoutMs)]);
      await storage.close();
    },
  };
}

/** A wired service instance. */
export type Server = Awaited<ReturnType<typeof createServer>>;
