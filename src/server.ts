/**
 * Wires one service instance: storage (the SQLite adapter), the queue and its worker threads, and
 * the HTTP app. `main.ts` boots it from the environment; tests boot it on temp files. It never
 * exits the process: fatal conditions go to `onFatal`, start-up failures are thrown.
 */
import { createApp } from "./app.ts";
import { type Config, StartupError } from "./config.ts";
import { Dashboard } from "./dashboard/service.ts";
import { ActivityWindow } from "./dashboard/window.ts";
import { redact } from "./db/postgres/client.ts";
import { openPostgresStorage } from "./db/postgres/storage.ts";
import { FileLockedError, openSqliteStorage } from "./db/sqlite/storage.ts";
import { toAppError, toErrorBody } from "./error-envelope.ts";
import { EventFeed } from "./events/feed.ts";
import { MAX_BODY_BYTES } from "./json-body.ts";
import type { Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics/registry.ts";
import type { OrderStore } from "./orders/store.ts";
import { Dispatcher } from "./queue/dispatcher.ts";
import { tellAll } from "./queue/observer.ts";
import type { Storage } from "./storage.ts";
import { WebhookDeliverer } from "./webhooks/deliverer.ts";

// The event feed reads at least this often while someone watches (the fallback when a wake-up is
// lost), and at most once per EVENT_READ_INTERVAL_MS however many writes wake it.
const EVENT_POLL_MS = 1000;
const EVENT_READ_INTERVAL_MS = 5;

/** What the process is told by a running service. */
export type ServerHooks = {
  /** The service cannot go on (its database writer failed); the process should exit 1. */
  onFatal: (reason: string) => void;
  now?: () => number;
};

/** PostgreSQL at DATABASE_URL; an unreachable or refusing server stops the start (password redacted). */
async function openPostgres(url: string, log: Logger): Promise<Storage> {
  try {
    return await openPostgresStorage({ url }, { log: (message, error) => log("error", message, { error }) });
  } catch (error) {
    throw new StartupError("DATABASE_URL", (error as Error).message);
  }
}

/**
 * Opens the storage: PostgreSQL when DATABASE_URL is set, else SQLite at DATABASE_PATH (its
 * writer's batches go to `metrics`).
 */
async function openStorage(
  config: Config,
  log: Logger,
  onFatal: (reason: string) => void,
  metrics: Metrics,
): Promise<Storage> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl, log);
  try {
    const storage = await openSqliteStorage(
      { path: config.databasePath, synchronous: config.sqliteSynchronous },
      {
        log: (message, error) => log("error", message, { error }),
        onFatal,
        onBatches: metrics.observeBatches,
      },
    );
    metrics.queue.released(storage.recovered);
    if (storage.recovered > 0) {
      log("warn", "took up orders a previous process left processing", { released: storage.recovered });
    }
    return storage;
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
          // Not again before the next 100 ms: while the database is down every request would retry.
          log("error", "could not read the pending orders", { error: String(error) });
          readAt = Date.now();
          reading = false;
        },
      );
    }
    return pending;
  };
}

/** The orders port, counting the cancels that happen (pending -> cancelled) into `metrics`. */
function countingCancels(store: OrderStore, metrics: Metrics): OrderStore {
  return {
    ...store,
    cancelOrder: async (orderId, now) => {
      const outcome = await store.cancelOrder(orderId, now);
      if (outcome.cancelled) metrics.orderCancelled();
      return outcome;
    },
  };
}

/** Opens the storage and builds everything; nothing listens or runs until `start`. */
export async function createServer(config: Config, log: Logger, hooks: ServerHooks) {
  const now = hooks.now ?? Date.now;
  const metrics = createMetrics();
  const storage = await openStorage(config, log, hooks.onFatal, metrics);
  const activity = new ActivityWindow(now);
  const dispatcher = new Dispatcher({
    queue: storage.queue,
    now,
    workers: config.workers,
    concurrency: config.workerConcurrency,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    leaseMs: config.leaseMs,
    processing: {
      processingTimeMs: config.processingTimeMs,
      failureRate: config.processingFailureRate,
      timeoutMs: config.processingTimeoutMs,
      module: config.processOrderModule,
    },
    log,
    observer: tellAll(metrics.queue, activity.observer),
  });
  const feed = new EventFeed(storage.events, {
    pollMs: EVENT_POLL_MS,
    minIntervalMs: EVENT_READ_INTERVAL_MS,
    onError: (error) => log("error", "could not read order events", { error: String(error) }),
  });
  const slots = () => ({
    busy: dispatcher.inFlight(),
    capacity: dispatcher.pool.health().ready * config.workerConcurrency,
  });
  const dashboard = new Dashboard({
    store: storage.dashboard,
    countOrders: () => storage.system.countOrders(),
    window: activity,
    slots,
    replica: `replica-${crypto.randomUUID()}`,
    now,
    log,
  });
  const deliverer = new WebhookDeliverer({
    store: storage.webhooks,
    onEvents: (listener) => storage.events.subscribe(listener),
    now,
    owner: `webhooks-${crypto.randomUUID()}`,
    timeoutMs: config.webhookTimeoutMs,
    maxAttempts: config.webhookMaxAttempts,
    retryBaseMs: config.webhookRetryBaseMs,
    concurrency: config.webhookConcurrency,
    policy: { allowedHosts: config.webhookAllowedHosts },
    log,
  });
  metrics.watch({
    countOrders: () => storage.system.countOrders(),
    slots,
  });
  const app = createApp({
    orders: {
      store: countingCancels(storage.orders, metrics),
      now,
      onOrderStored: () => {
        metrics.orderCreated();
        dispatcher.wake();
      },
      onOrderRetried: () => dispatcher.wake(),
      feed,
    },
    events: {
      feed,
      store: storage.events,
      heartbeatMs: config.sseHeartbeatMs,
      maxQueued: config.sseMaxQueuedEvents,
    },
    webhooks: {
      store: storage.webhooks,
      policy: { allowedHosts: config.webhookAllowedHosts },
      now,
      onSubscribed: () => deliverer.subscriptionsChanged(),
    },
    dashboard,
    system: {
      store: storage.system,
      workers: () => dispatcher.pool.health(),
      prometheus: metrics.prometheus,
    },
    http: {
      config,
      log,
      pendingOrders: cachedPendingOrders(storage, log),
      onResponse: metrics.observeRequest,
    },
    log,
  });
  // Requests the routes do not match are labelled `unmatched`, never by their raw path.
  metrics.knowRoutes(app.routes.map((route) => route.path));

  /** Binds the port, never sharing it: a second service on the same port is refused, not merged. */
  function listen(): URL {
    try {
      app.listen({
        hostname: config.host,
        port: config.port,
        maxRequestBodySize: MAX_BODY_BYTES * 2,
        reusePort: false,
        // Seconds a connection may stay silent (Elysia's default, said here): an idle or stalled
        // client cannot hold a connection longer. A body that trickles in is cut by BODY_TIMEOUT_MS.
        idleTimeout: 30,
        // The last line of defence: whatever escapes Elysia gets the envelope, never Bun's error
        // page (which shows source lines and paths).
        error: (error) => {
          const requestId = crypto.randomUUID();
          const body = toErrorBody(toAppError(error, log, requestId));
          return Response.json(body, {
            status: 500,
            headers: {
              "x-request-id": requestId,
              "x-content-type-options": "nosniff",
              "cache-control": "no-store",
            },
          });
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
      dispatcher.start();
      deliverer.start();
      dashboard.start();
      log("info", "order service listening", {
        url: url.href,
        database: config.databaseUrl ? redact(config.databaseUrl) : config.databasePath,
        workers: config.workers,
      });
      return url;
    },

    /**
     * Graceful stop: stop accepting and let in-flight requests finish, let workers finish their
     * orders within SHUTDOWN_TIMEOUT_MS (the rest go back to pending), checkpoint and close.
     */
    async stop(): Promise<void> {
      await Promise.all([
        stopHttp(config.shutdownTimeoutMs),
        dispatcher.stop(config.shutdownTimeoutMs),
        deliverer.stop(config.shutdownTimeoutMs),
      ]);
      feed.close();
      dashboard.stop();
      await storage.close();
    },
  };
}

/** A wired service instance. */
export type Server = Awaited<ReturnType<typeof createServer>>;
