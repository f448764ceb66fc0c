/**
 * Configuration: the one file that reads the environment. Every variable is validated once at
 * start-up; a bad value stops the process with a message naming the variable.
 */
import { existsSync } from "node:fs";
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
  logLevel: LogLevel;
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

/** An optional path to a module, made absolute; it must exist. */
function readModule(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const path = resolve(raw);
  if (!existsSync(path))
    throw new ConfigError(name, `${name} must name an existing module file, got "${raw}"`);
  return path;
}

/** Reads and validates the configuration; throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  return {
    host: env.HOST || "0.0.0.0",
    port: readInt(env, "PORT", 3000, 0, 65535),
    databasePath: env.DATABASE_PATH || "./data/orders.db",
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
    logLevel: readChoice(env, "LOG_LEVEL", "info", LOG_LEVELS),
  };
}
