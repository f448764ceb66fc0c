/**
 * Wires one service instance: storage (open-storage.ts picks the adapter), the queue and its
 * worker threads, the event feed, the webhook sender, the dashboard and the HTTP app. `main.ts`
 * boots it from the environment; tests boot it on temp files. It never exits the process: fatal
 * conditions go to `onFatal`, start-up failures are thrown.
 */
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import { Dashboard } from "./dashboard/service.ts";
import { ActivityWindow } from "./dashboard/window.ts";
import { EventFeed } from "./events/feed.ts";
import { trackPendingOrders } from "./http/backpressure.ts";
import { httpServer } from "./http/listen.ts";
import type { Logger } from "./kit/logger.ts";
import { createMetrics, type Metrics } from "./metrics/registry.ts";
import { describeDatabase, openStorage } from "./open-storage.ts";
import type { OrderStore } from "./orders/store.ts";
import { Dispatcher } from "./queue/dispatcher.ts";
import { type QueueObserver, tellAll } from "./queue/observer.ts";
import { WorkerPool } from "./queue/worker-pool.ts";
import { Pruner } from "./retention/pruner.ts";
import type { Storage } from "./storage.ts";
import { attemptSpans } from "./tracing/attempts.ts";
import { startTracing, type Tracing } from "./tracing/tracing.ts";
import { SenderThread } from "./webhooks/sender.ts";
import { urlPolicy } from "./webhooks/url-policy.ts";

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

/** The orders port, counting the changes by id that happen (cancels, operator retries) into `metrics`. */
function countingChanges(store: OrderStore, metrics: Metrics): OrderStore {
  return {
    ...store,
    changeOrder: async (orderId, change, now) => {
      const outcome = await store.changeOrder(orderId, change, now);
      if (outcome.changed) metrics.orderChanged(change.transition);
      return outcome;
    },
  };
}

/** The order queue: the worker threads and the dispatcher that feeds them. */
function createQueue(
  config: Config,
  log: Logger,
  storage: Storage,
  observer: QueueObserver,
  now: () => number,
) {
  const workers = new WorkerPool(
    {
      size: config.workers,
      processing: {
        processingTimeMs: config.processingTimeMs,
        failureRate: config.processingFailureRate,
        timeoutMs: config.processingTimeoutMs,
        module: config.processOrderModule,
      },
    },
    (message, extra) => log("error", message, extra),
  );
  return new Dispatcher({
    queue: storage.queue,
    workers,
    now,
    concurrency: config.workerConcurrency,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    leaseMs: config.leaseMs,
    processingTimeoutMs: config.processingTimeoutMs,
    log,
    observer,
  });
}

/** The webhook sender over the outbox, on a thread of its own, woken by committed events. */
function createSender(config: Config, log: Logger, storage: Storage) {
  return new SenderThread({
    settings: {
      concurrency: config.webhookConcurrency,
      perSubscription: config.webhookSubscriptionConcurrency,
      maxAttempts: config.webhookMaxAttempts,
      retryBaseMs: config.webhookRetryBaseMs,
      leaseMs: config.leaseMs,
      timeoutMs: config.webhookTimeoutMs,
      policy: urlPolicy(config.webhookAllowedHosts),
      // The thread traces its deliveries itself, with the same settings.
      tracing: config.tracing,
    },
    openStore: () => storage.webhooksForThread(),
    onEvents: (listener) => storage.events.subscribe(listener),
    log,
  });
}

/** The parts the HTTP app is built over. */
type Parts = {
  config: Config;
  log: Logger;
  now: () => number;
  storage: Storage;
  metrics: Metrics;
  dispatcher: Dispatcher;
  sender: SenderThread;
  feed: EventFeed;
  dashboard: Dashboard;
  pruner: Pruner;
  tracing: Tracing | undefined;
};

/** The HTTP app over the parts: each feature's routes given what they need. */
function createHttpApp({
  config,
  log,
  now,
  storage,
  metrics,
  dispatcher,
  sender,
  feed,
  dashboard,
  tracing,
}: Parts) {
  return createApp({
    orders: {
      store: countingChanges(storage.orders, metrics),
      now,
      onOrderStored: (order) => {
        metrics.orderCreated(order);
        dashboard.accepted(order);
        dispatcher.wake();
      },
      onOrderRetried: () => dispatcher.wake(),
      defaultCurrency: config.defaultCurrency,
      maxAttempts: config.maxAttempts,
      feed,
    },
    events: {
      feed,
      store: storage.events,
      oldestEvent: () => storage.retention.oldestEvent(),
      heartbeatMs: config.sseHeartbeatMs,
      maxQueued: config.sseMaxQueuedEvents,
      stallMs: config.sseStallMs,
    },
    webhooks: {
      store: storage.webhooks,
      policy: urlPolicy(config.webhookAllowedHosts),
      maxWebhooks: config.maxWebhooks,
      laggingAfterMs: config.webhookLaggingAfterMs,
      now,
      onSubscribed: () => sender.subscriptionsChanged(),
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
      pendingOrders: trackPendingOrders(
        async () => (await storage.system.countOrders()).byStatus.pending,
        (error) => log("error", "could not read the pending orders", { error: String(error) }),
      ),
      onResponse: metrics.observeRequest,
      tracing,
    },
    log,
  });
}

/** Opens the storage and builds everything; nothing listens or runs until `start`. */
export async function createServer(config: Config, log: Logger, hooks: ServerHooks) {
  const now = hooks.now ?? Date.now;
  const metrics = createMetrics();
  const storage = await openStorage(config, log, hooks.onFatal, metrics);
  const activity = new ActivityWindow(now);
  const tracing = config.tracing && startTracing(config.tracing);
  const observers = [metrics.queue, activity.observer, ...(tracing ? [attemptSpans(tracing, log)] : [])];
  const dispatcher = createQueue(config, log, storage, tellAll(...observers), now);
  const feed = new EventFeed(storage.events, {
    pollMs: EVENT_POLL_MS,
    minIntervalMs: EVENT_READ_INTERVAL_MS,
    maxWatchers: config.maxWatchers,
    onError: (error) => log("error", "could not read order events", { error: String(error) }),
  });
  const slots = () => ({
    busy: dispatcher.inFlight(),
    capacity: dispatcher.pool.health().ready * config.workerConcurrency,
  });
  const dashboard = new Dashboard({
    store: storage.dashboard,
    countOrders: () => storage.system.countOrders(),
    oldestEvent: () => storage.retention.oldestEvent(),
    window: activity,
    slots,
    webhooks: { store: storage.webhooks, laggingAfterMs: config.webhookLaggingAfterMs },
    replica: `replica-${crypto.randomUUID()}`,
    now,
    log,
  });
  const sender = createSender(config, log, storage);
  metrics.watch({ countOrders: () => storage.system.countOrders(), slots });
  metrics.watchWebhooks({ backlogs: () => storage.webhooks.backlogs(), now });
  const pruner = new Pruner(storage.retention, {
    eventRetentionMs: config.eventRetentionMs,
    deliveryRetentionMs: config.deliveryRetentionMs,
    orderRetentionMs: config.orderRetentionMs,
    now,
    onPruned: metrics.pruned,
    onError: (error) => log("error", "could not prune old history", { error: String(error) }),
  });
  const parts = { config, log, now, storage, metrics, dispatcher, sender, feed, dashboard, pruner, tracing };
  const app = createHttpApp(parts);
  // Requests the routes do not match are labelled `unmatched`, never by their raw path.
  metrics.knowRoutes(app.routes.map((route) => route.path));
  return { app, storage, dispatcher, sender, ...lifecycleOf(parts, httpServer(app, config, log)) };
}

/** Starting and stopping the parts, in order. */
function lifecycleOf(parts: Parts, http: ReturnType<typeof httpServer>) {
  const { config, log, dispatcher, sender, dashboard, feed, storage, pruner, tracing } = parts;
  return {
    /** Listens, takes up orders a dead process left processing, then starts the workers. */
    async start(): Promise<URL> {
      const url = http.listen();
      dispatcher.start();
      sender.start();
      dashboard.start();
      pruner.start();
      log("info", "order service listening", {
        url: url.href,
        database: describeDatabase(config),
        workers: config.workers,
      });
      return url;
    },

    /**
     * Graceful stop: stop accepting and let in-flight requests finish, let workers finish their
     * orders within SHUTDOWN_TIMEOUT_MS (the rest go back to pending), checkpoint and close.
     */
    async stop(): Promise<void> {
      // First: long-polls answer and event streams end, or they would hold the HTTP drain open.
      feed.close();
      await Promise.all([
        http.stop(config.shutdownTimeoutMs),
        dispatcher.stop(config.shutdownTimeoutMs),
        sender.stop(config.shutdownTimeoutMs),
      ]);
      dashboard.stop();
      await pruner.stop();
      await storage.close();
      // Last: the spans of everything above, exported (or dropped after the exporter's timeout).
      await tracing?.shutdown();
    },
  };
}

/** A wired service instance. */
export type Server = Awaited<ReturnType<typeof createServer>>;
