/**
 * Configuration: the one file that reads the environment. Every variable is validated once at
 * start-up; a bad value stops the process with a message naming the variable.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

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
  /** Hosts webhooks may go to; empty: any host whose addresses are all public. */
  webhookAllowedHosts: string[];
  /** Webhook subscriptions the whole service may hold; past it, 422 WEBHOOK_LIMIT_REACHED. */
  maxWebhooks: number;
};

/**
 * Why the service cannot start, naming the setting to fix; `main.ts` logs it as one JSON line and
 * exits 1.
 */
export class StartupError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown for an invalid variable. */
export class ConfigError extends StartupError {}

type Env = Record<string, string | undefined>;

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ConfigError(name, `${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

// The shortest lease that is safe: a lease must outlast a third of itself (the tick) plus a
// renewal, with room for one skipped tick, so the pump and the renewal must answer within a third
// of it; under load on a 2-core machine their p99 left a factor of 2 at this floor (figures:
// docs/PERFORMANCE.md, "Leases").
const LEASE_FLOOR_MS = 300;

function readLeaseMs(env: Env): number {
  const raw = env.LEASE_MS;
  if (raw !== undefined && /^\d+$/.test(raw.trim()) && Number(raw) < LEASE_FLOOR_MS) {
    throw new ConfigError(
      "LEASE_MS",
      `LEASE_MS must be at least ${LEASE_FLOOR_MS} (ms), got "${raw}": a shorter lease can run out while its holder is alive and working (docs/ARCHITECTURE.md, Leases)`,
    );
  }
  return readInt(env, "LEASE_MS", 30_000, LEASE_FLOOR_MS, 3_600_000);
}

function readNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(name, `${name} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function readChoice<T extends string>(env: Env, name: string, fallback: T, choices: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const normalized = (name === "LOG_LEVEL" ? raw.toLowerCase() : raw.toUpperCase()) as T;
  if (!choices.includes(normalized)) {
    throw new ConfigError(name, `${name} must be one of ${choices.join(", ")}, got "${raw}"`);
  }
  return normalized;
}

/** DATABASE_URL, when set: a postgres:// or postgresql:// URL (the password is never repeated). */
function readDatabaseUrl(env: Env): string | undefined {
  const raw = env.DATABASE_URL;
  if (raw === undefined || raw === "") return undefined;
  let protocol = "";
  try {
    protocol = new URL(raw).protocol;
  } catch {}
  if (protocol !== "postgres:" && protocol !== "postgresql:") {
    throw new ConfigError("DATABASE_URL", "DATABASE_URL must be a postgres:// URL (unset it to use SQLite)");
  }
  return raw;
}

/** An optional path to a module, made absolute; it must exist. */
function readModule(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const path = resolve(raw);
  if (!existsSync(path))
    throw new ConfigError(name, `${name} must name an existing module file, got "${raw}"`);
  return path;
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = raw.trim().toLowerCase();
  if (["true", "1", "yes"].includes(value)) return true;
  if (["false", "0", "no"].includes(value)) return false;
  throw new ConfigError(name, `${name} must be true or false, got "${raw}"`);
}

/** A comma-separated list, each entry trimmed, empty entries dropped. */
function readList(env: Env, name: string): string[] {
  return (env[name] ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** What an API key may be: long enough not to be guessed, and safe in an HTTP header. */
const API_KEY = /^[\x21-\x7e]{16,256}$/;

/**
 * The API keys, from API_KEYS (comma-separated) or API_KEYS_FILE (one per line; blank lines and
 * lines starting with # are skipped). An error names the key by its position, never by its text:
 * start-up errors are logged.
 */
function readApiKeys(env: Env): string[] {
  const inline = env.API_KEYS ?? "";
  const file = env.API_KEYS_FILE ?? "";
  if (inline !== "" && file !== "") {
    throw new ConfigError("API_KEYS", "set API_KEYS or API_KEYS_FILE, not both");
  }
  let name = "API_KEYS";
  let keys = readList(env, "API_KEYS");
  // Set but empty of keys (" ", ","): a mistake that would leave the service open.
  if (inline !== "" && keys.length === 0) throw new ConfigError(name, "API_KEYS is set but holds no key");
  if (file !== "") {
    name = "API_KEYS_FILE";
    let text: string;
    try {
      text = readFileSync(resolve(file), "utf8");
    } catch {
      throw new ConfigError(name, `API_KEYS_FILE must name a readable file, got "${file}"`);
    }
    keys = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    if (keys.length === 0) throw new ConfigError(name, `API_KEYS_FILE "${file}" holds no key`);
  }
  const bad = keys.findIndex((key) => !API_KEY.test(key) || key.includes(","));
  if (bad !== -1) {
    throw new ConfigError(
      name,
      `${name}: key ${bad + 1} must be 16 to 256 visible ASCII characters, without commas or spaces`,
    );
  }
  return keys;
}

/** CORS origins: each `scheme://host[:port]` exactly as a browser sends it in `Origin`. */
function readOrigins(env: Env): string[] {
  const origins = readList(env, "CORS_ORIGINS");
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    if (parsed?.origin !== origin) {
      throw new ConfigError(
        "CORS_ORIGINS",
        `CORS_ORIGINS must list origins like https://shop.example.com (scheme, host, optional port; no path or trailing slash), got "${origin}"`,
      );
    }
  }
  return origins;
}

/** Reads and validates the configuration; throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  return {
    host: env.HOST || "0.0.0.0",
    port: readInt(env, "PORT", 3000, 0, 65535),
    databasePath: env.DATABASE_PATH || "./data/orders.db",
    databaseUrl: readDatabaseUrl(env),
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
    maxWatchers: readInt(env, "MAX_WATCHERS", 10_000, 1, 1_000_000),
    sseHeartbeatMs: readInt(env, "SSE_HEARTBEAT_MS", 15_000, 100, 300_000),
    sseMaxQueuedEvents: readInt(env, "SSE_MAX_QUEUED_EVENTS", 10_000, 10, 10_000_000),
    sseStallMs: readInt(env, "SSE_STALL_MS", 30_000, 100, 3_600_000),
    webhookTimeoutMs: readInt(env, "WEBHOOK_TIMEOUT_MS", 5000, 100, 60_000),
    webhookMaxAttempts: readInt(env, "WEBHOOK_MAX_ATTEMPTS", 8, 1, 100),
    webhookRetryBaseMs: readInt(env, "WEBHOOK_RETRY_BASE_MS", 1000, 0, 3_600_000),
    webhookConcurrency: readInt(env, "WEBHOOK_CONCURRENCY", 16, 1, 1000),
    // Normalized by the webhooks feature (url-policy.ts), which owns what a host entry means.
    webhookAllowedHosts: readList(env, "WEBHOOK_ALLOWED_HOSTS"),
    maxWebhooks: readInt(env, "MAX_WEBHOOKS", 100, 1, 100_000),
  };
}
