import { expect, test } from "bun:test";
import { ConfigError, loadConfig } from "./config.ts";

test("defaults match the documented table", () => {
  expect(loadConfig({})).toEqual({
    host: "0.0.0.0",
    port: 3000,
    databasePath: "./data/orders.db",
    sqliteSynchronous: "FULL",
    workers: 4,
    workerConcurrency: 32,
    processingTimeMs: 100,
    processingFailureRate: 0,
    processingTimeoutMs: 30_000,
    processOrderModule: undefined,
    maxAttempts: 5,
    retryBaseMs: 1000,
    shutdownTimeoutMs: 10_000,
    logLevel: "info",
  });
});

test("reads and normalises values", () => {
  const config = loadConfig({
    WORKERS: "64",
    SQLITE_SYNCHRONOUS: "normal",
    LOG_LEVEL: "WARN",
    PROCESSING_FAILURE_RATE: "0.25",
  });
  expect(config).toMatchObject({
    workers: 64,
    sqliteSynchronous: "NORMAL",
    logLevel: "warn",
    processingFailureRate: 0.25,
  });
});

test("rejects out-of-range and malformed values, naming the variable", () => {
  for (const [name, value] of [
    ["WORKERS", "0"],
    ["WORKERS", "65"],
    ["WORKERS", "2.5"],
    ["PORT", "70000"],
    ["MAX_ATTEMPTS", "many"],
    ["PROCESSING_FAILURE_RATE", "-0.1"],
    ["SQLITE_SYNCHRONOUS", "ALWAYS"],
    ["LOG_LEVEL", "chatty"],
  ] as const) {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  }
});
