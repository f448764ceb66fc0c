/**
 * Configuration: the one file that reads the environment. Every variable is validated once at
 * start-up; a bad value stops the process with a message naming the variable.
 */
import {
  ConfigError,
  type Env,
  readApiKeys,
  readBoolean,
  readChoice,
  readCurrency,
  readDatabaseUrl,
  readInt,
  readLeaseMs,
  readList,
  readModule,
  readNumber,
  readOrigins,
  readTrustedProxies,
} from "./config-read.ts";
import { readTracing, type TracingConfig } from "./config-tracing.ts";

const DAY_MS = 86_400_000;

/**
 * A retention in days, decimals allowed (0.0001 days is 8.6 s, for tests and soaks), as
 * milliseconds: from about a second to a hundred years.
 */
function readDays(env: Env, name: string, fallback: number): number {
  return Math.round(readNumber(env, name, fallback, 0.00001, 36_500) * DAY_MS);
}

/** SQLite `synchronous` levels we accept. FULL (default) makes a 201 survive power loss, not just a crash. */
export const SYNCHRONOUS_LEVELS = ["OFF", "NORMAL", "FULL", "EXTRA"] as const;
export type SynchronousLevel = (typeof SYNCHRONOUS_LEVELS)[number];

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Validated settings of one service process. */
export type Config = {
  host: string;
  port: number;
  databasePath: string;
  /** postgres://… to run on PostgreSQL (several replicas on one database); SQLite otherwise. */
  databaseUrl: string | undefined;
  /**
   * Whether the PostgreSQL adapter names its statements (prepared once per connection). false for a
   * DATABASE_URL through a transaction-mode pooler (PgBouncer before 1.21), which also keeps LISTEN
   * off that URL.
   */
  pgPreparedStatements: boolean;
  /** postgres://… a session can be kept on (direct or session-mode): where LISTEN connects. */
  databaseDirectUrl: string | undefined;
  sqliteSynchronous: SynchronousLevel;
  workers: number;
  workerConcurrency: number;
  processingTimeMs: number;
  processingFailureRate: number;
  processingTimeoutMs: number;
  processOrderModule: string | undefined;
  maxAttempts: number;
  retryBaseMs: number;
  shutdownTimeoutMs: number;
  leaseMs: number;
  logLevel: LogLevel;
  /** API keys; empty: authentication is off. Never log them. */
  apiKeys: string[];
  /** Whether /metrics answers without a key when keys are set. */
  metricsPublic: boolean;
  /** Whether /dashboard/data answers without a key when keys are set (the page itself always does). */
  dashboardPublic: boolean;
  /** Whether /swagger and /swagger/* answer without a key when keys are set. */
  docsPublic: boolean;
  /** Requests per second per client (its key, else its address); 0: no limit. */
  rateLimitPerS: number;
  /** Pending orders beyond which a new order is refused (503 OVERLOADED). */
  maxPendingOrders: number;
  /** Time a request body has to arrive in full (408 REQUEST_TIMEOUT). */
  bodyTimeoutMs: number;
  /** Origins allowed by CORS; empty: CORS is off. */
  corsOrigins: string[];
  /**
   * Proxies (as `address/prefix`) whose X-Forwarded-For names the client; empty: the TCP peer is the
   * client, and the header is never read.
   */
  trustedProxies: string[];
  /** Long-polls and SSE streams one process holds at once; past it, 503 OVERLOADED. */
  maxWatchers: number;
  /** How often an SSE stream (`GET /events`) sends a heartbeat comment. */
  sseHeartbeatMs: number;
  /** Events an SSE stream keeps queued for its client; past it, the stream waits for the client to read. */
  sseMaxQueuedEvents: number;
  /** How long an SSE client with a full queue may read nothing before it is cut off. */
  sseStallMs: number;
  /** How long one webhook attempt may take. */
  webhookTimeoutMs: number;
  /** Attempts of a delivery before it is dead. */
  webhookMaxAttempts: number;
  /** Base of the deliveries' exponential backoff. */
  webhookRetryBaseMs: number;
  /** Deliveries sent at once by one process. */
  webhookConcurrency: number;
  /** Attempts in flight at once to any one subscription, so a slow receiver holds no more. */
  webhookSubscriptionConcurrency: number;
  /** Hosts webhooks may go to; empty: any host whose addresses are all public. */
  webhookAllowedHosts: string[];
  /** Webhook subscriptions the whole service may hold; past it, 422 WEBHOOK_LIMIT_REACHED. */
  maxWebhooks: number;
  /** A subscription whose oldest undelivered event is older than this is listed as lagging. */
  webhookLaggingAfterMs: number;
  /** ISO 4217 code of an order that names none (every seed-shaped order). */
  defaultCurrency: string;
  /** How long order events are kept (docs/OPERATING.md, "Retention"). */
  eventRetentionMs: number;
  /** How long sent and dead webhook deliveries are kept. */
  deliveryRetentionMs: number;
  /** How long orders in a final status are kept; undefined: forever (the default). */
  orderRetentionMs: number | undefined;
  /** OpenTelemetry traces (OTEL_* variables); undefined: off (the default). */
  tracing: TracingConfig | undefined;
};

export { ConfigError, StartupError } from "./config-read.ts";

/** Reads and validates the configuration; throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  return {
    host: env.HOST || "0.0.0.0",
    port: readInt(env, "PORT", 3000, 0, 65535),
    databasePath: env.DATABASE_PATH || "./data/orders.db",
    databaseUrl: readDatabaseUrl(env),
    pgPreparedStatements: readBoolean(env, "PG_PREPARED_STATEMENTS", true),
    databaseDirectUrl: readDatabaseUrl(env, "DATABASE_DIRECT_URL"),
    sqliteSynchronous: readChoice(env, "SQLITE_SYNCHRONOUS", "FULL", SYNCHRONOUS_LEVELS),
    workers: readInt(env, "WORKERS", 4, 1, 64),
    workerConcurrency: readInt(env, "WORKER_CONCURRENCY", 32, 1, 1000),
    processingTimeMs: readInt(env, "PROCESSING_TIME_MS", 100, 0, 600_000),
    processingFailureRate: readNumber(env, "PROCESSING_FAILURE_RATE", 0, 0, 1),
    processingTimeoutMs: readInt(env, "PROCESSING_TIMEOUT_MS", 30_000, 1, 86_400_000),
    processOrderModule: readModule(env, "PROCESS_ORDER_MODULE"),
    maxAttempts: readInt(env, "MAX_ATTEMPTS", 5, 1, 100),
    retryBaseMs: readInt(env, "RETRY_BASE_MS", 1000, 0, 300_000),
    shutdownTimeoutMs: readInt(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    leaseMs: readLeaseMs(env),
    logLevel: readChoice(env, "LOG_LEVEL", "info", LOG_LEVELS),
    apiKeys: readApiKeys(env),
    metricsPublic: readBoolean(env, "METRICS_PUBLIC", true),
    dashboardPublic: readBoolean(env, "DASHBOARD_PUBLIC", readBoolean(env, "METRICS_PUBLIC", true)),
    docsPublic: readBoolean(env, "DOCS_PUBLIC", true),
    rateLimitPerS: readInt(env, "RATE_LIMIT_PER_S", 0, 0, 1_000_000),
    maxPendingOrders: readInt(env, "MAX_PENDING_ORDERS", 100_000, 1, 1_000_000_000),
    bodyTimeoutMs: readInt(env, "BODY_TIMEOUT_MS", 10_000, 100, 600_000),
    corsOrigins: readOrigins(env),
    trustedProxies: readTrustedProxies(env),
    maxWatchers: readInt(env, "MAX_WATCHERS", 10_000, 1, 1_000_000),
    sseHeartbeatMs: readInt(env, "SSE_HEARTBEAT_MS", 15_000, 100, 300_000),
    sseMaxQueuedEvents: readInt(env, "SSE_MAX_QUEUED_EVENTS", 10_000, 10, 10_000_000),
    sseStallMs: readInt(env, "SSE_STALL_MS", 30_000, 100, 3_600_000),
    webhookTimeoutMs: readInt(env, "WEBHOOK_TIMEOUT_MS", 5000, 100, 60_000),
    webhookMaxAttempts: readInt(env, "WEBHOOK_MAX_ATTEMPTS", 8, 1, 100),
    webhookRetryBaseMs: readInt(env, "WEBHOOK_RETRY_BASE_MS", 1000, 0, 3_600_000),
    webhookConcurrency: readInt(env, "WEBHOOK_CONCURRENCY", 128, 1, 1000),
    webhookSubscriptionConcurrency: readInt(env, "WEBHOOK_SUBSCRIPTION_CONCURRENCY", 64, 1, 1000),
    // Normalized by the webhooks feature (url-policy.ts), which owns what a host entry means.
    webhookAllowedHosts: readList(env, "WEBHOOK_ALLOWED_HOSTS"),
    maxWebhooks: readInt(env, "MAX_WEBHOOKS", 100, 1, 100_000),
    webhookLaggingAfterMs: readInt(env, "WEBHOOK_LAGGING_AFTER_MS", 60_000, 1, 86_400_000),
    defaultCurrency: readCurrency(env, "DEFAULT_CURRENCY", "USD"),
    eventRetentionMs: readDays(env, "EVENT_RETENTION_DAYS", 30),
    deliveryRetentionMs: readDays(env, "DELIVERY_RETENTION_DAYS", 14),
    orderRetentionMs: env.ORDER_RETENTION_DAYS ? readDays(env, "ORDER_RETENTION_DAYS", 0) : undefined,
    tracing: readTracing(env),
  };
}

/** Where the operator's HTTP commands (retry-failed, redeliver-dead) reach the running service. */
export type ServiceEndpoint = { url: URL; apiKey: string | undefined };

/**
 * The running service the CLI talks to: ORDER_SERVICE_URL, else http://127.0.0.1:$PORT (the port
 * the service reads, 3000 by default), with API_KEY sent as a bearer token when set. Throws
 * `ConfigError` naming the variable.
 */
export function loadServiceEndpoint(env: Env = process.env): ServiceEndpoint {
  const raw = env.ORDER_SERVICE_URL || `http://127.0.0.1:${readInt(env, "PORT", 3000, 0, 65535)}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("ORDER_SERVICE_URL", `ORDER_SERVICE_URL must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ConfigError("ORDER_SERVICE_URL", `ORDER_SERVICE_URL must be an http(s) URL, got "${raw}"`);
  return { url, apiKey: env.API_KEY || undefined };
}
