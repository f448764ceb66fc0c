import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "./config.ts";

test("defaults match the documented table", () => {
  expect(loadConfig({})).toEqual({
    host: "0.0.0.0",
    port: 3000,
    databasePath: "./data/orders.db",
    databaseUrl: undefined,
    pgPreparedStatements: true,
    databaseDirectUrl: undefined,
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
    leaseMs: 30_000,
    logLevel: "info",
    apiKeys: [],
    metricsPublic: true,
    dashboardPublic: true,
    docsPublic: true,
    rateLimitPerS: 0,
    maxPendingOrders: 100_000,
    bodyTimeoutMs: 10_000,
    maxWatchers: 10_000,
    sseHeartbeatMs: 15_000,
    sseMaxQueuedEvents: 10_000,
    sseStallMs: 30_000,
    webhookTimeoutMs: 5000,
    webhookMaxAttempts: 8,
    webhookRetryBaseMs: 1000,
    webhookConcurrency: 128,
    webhookSubscriptionConcurrency: 64,
    webhookAllowedHosts: [],
    maxWebhooks: 100,
    webhookLaggingAfterMs: 60_000,
    defaultCurrency: "USD",
    corsOrigins: [],
    trustedProxies: [],
    eventRetentionMs: 30 * 86_400_000,
    deliveryRetentionMs: 14 * 86_400_000,
    orderRetentionMs: undefined,
    tracing: undefined,
  });
});

test("retentions are days, decimals allowed; orders are kept unless ORDER_RETENTION_DAYS is set", () => {
  expect(
    loadConfig({ EVENT_RETENTION_DAYS: "0.0001", DELIVERY_RETENTION_DAYS: "2", ORDER_RETENTION_DAYS: "365" }),
  ).toMatchObject({
    eventRetentionMs: 8640,
    deliveryRetentionMs: 2 * 86_400_000,
    orderRetentionMs: 365 * 86_400_000,
  });
  for (const [name, value] of [
    ["EVENT_RETENTION_DAYS", "0"],
    ["DELIVERY_RETENTION_DAYS", "-1"],
    ["ORDER_RETENTION_DAYS", "forever"],
    ["EVENT_RETENTION_DAYS", "40000"],
  ] as const) {
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  }
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
    ["DEFAULT_CURRENCY", "usd"],
    ["DEFAULT_CURRENCY", "XAU"],
    ["DEFAULT_CURRENCY", "DEM"],
  ] as const) {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  }
});

test("PgBouncer settings: PG_PREPARED_STATEMENTS and DATABASE_DIRECT_URL beside DATABASE_URL", () => {
  const pooled = "postgres://app:secret@pgbouncer:6432/orders";
  const direct = "postgresql://app:secret@db:5432/orders";
  expect(
    loadConfig({ DATABASE_URL: pooled, PG_PREPARED_STATEMENTS: "false", DATABASE_DIRECT_URL: direct }),
  ).toMatchObject({ databaseUrl: pooled, pgPreparedStatements: false, databaseDirectUrl: direct });
  expect(loadConfig({ PG_PREPARED_STATEMENTS: "1" }).pgPreparedStatements).toBe(true);
  expect(() => loadConfig({ PG_PREPARED_STATEMENTS: "off" })).toThrow(
    "PG_PREPARED_STATEMENTS must be true or false",
  );
  // Validated like DATABASE_URL, and never a secret repeated in the message.
  for (const bad of ["mysql://app:secret@db/orders", "db:5432"]) {
    const env = { DATABASE_URL: pooled, DATABASE_DIRECT_URL: bad };
    expect(() => loadConfig(env)).toThrow("DATABASE_DIRECT_URL must be a postgres:// URL");
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as Error).message).not.toContain("secret");
    }
  }
});

test("DEFAULT_CURRENCY: an active ISO 4217 code, USD when unset", () => {
  expect(loadConfig({}).defaultCurrency).toBe("USD");
  expect(loadConfig({ DEFAULT_CURRENCY: "JPY" }).defaultCurrency).toBe("JPY");
});

test("refuses a LEASE_MS below the safe floor, saying why; accepts the floor itself", () => {
  expect(() => loadConfig({ LEASE_MS: "299" })).toThrow(
    'LEASE_MS must be at least 300 (ms), got "299": a shorter lease can run out while its holder is alive',
  );
  expect(() => loadConfig({ LEASE_MS: "5e2" })).toThrow("LEASE_MS must be a whole number");
  expect(loadConfig({ LEASE_MS: "300" }).leaseMs).toBe(300);
});

test("reads the HTTP policy settings", () => {
  const config = loadConfig({
    API_KEYS: " key-one-0123456789 , key-two-0123456789,",
    METRICS_PUBLIC: "false",
    DOCS_PUBLIC: "no",
    RATE_LIMIT_PER_S: "50",
    MAX_PENDING_ORDERS: "10",
    BODY_TIMEOUT_MS: "500",
    CORS_ORIGINS: "https://shop.example.com, http://localhost:5173",
  });
  expect(config).toMatchObject({
    apiKeys: ["key-one-0123456789", "key-two-0123456789"],
    metricsPublic: false,
    docsPublic: false,
    rateLimitPerS: 50,
    maxPendingOrders: 10,
    bodyTimeoutMs: 500,
    corsOrigins: ["https://shop.example.com", "http://localhost:5173"],
  });
});

test("TRUSTED_PROXIES: addresses and CIDR blocks, IPv4 and IPv6, kept as address/prefix", () => {
  expect(
    loadConfig({ TRUSTED_PROXIES: " 10.0.0.7, 172.16.0.0/12 ,FD00::/8, ::1, ::ffff:192.168.0.0/112," })
      .trustedProxies,
  ).toEqual(["10.0.0.7/32", "172.16.0.0/12", "fd00::/8", "::1/128", "192.168.0.0/16"]);
  expect(() => loadConfig({ TRUSTED_PROXIES: "10.0.0.7, 10.0.0.300" })).toThrow('got "10.0.0.300"');
});

test("reads API keys from API_KEYS_FILE, one a line, skipping blanks and comments", () => {
  const dir = mkdtempSync(join(tmpdir(), "config-test-"));
  try {
    const file = join(dir, "keys");
    writeFileSync(file, "# rotated 2026-11\nkey-one-0123456789\r\n\n  key-two-0123456789  \n");
    expect(loadConfig({ API_KEYS_FILE: file }).apiKeys).toEqual(["key-one-0123456789", "key-two-0123456789"]);
    writeFileSync(file, "\n# nothing\n");
    expect(() => loadConfig({ API_KEYS_FILE: file })).toThrow("holds no key");
    expect(() => loadConfig({ API_KEYS_FILE: join(dir, "missing") })).toThrow("API_KEYS_FILE");
    expect(() => loadConfig({ API_KEYS_FILE: file, API_KEYS: "key-one-0123456789" })).toThrow("not both");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a bad API key is named by its position, never by its text", () => {
  for (const bad of ["short-key", "has a space in it 0123", "x".repeat(257)]) {
    const env = { API_KEYS: `good-key-0123456789,${bad}` };
    expect(() => loadConfig(env)).toThrow("API_KEYS: key 2 must be");
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as Error).message).not.toContain(bad);
    }
  }
});

test("rejects malformed policy settings, naming the variable", () => {
  for (const [name, value] of [
    ["METRICS_PUBLIC", "maybe"],
    ["RATE_LIMIT_PER_S", "-1"],
    ["MAX_PENDING_ORDERS", "0"],
    ["BODY_TIMEOUT_MS", "10"],
    ["CORS_ORIGINS", "https://shop.example.com/"],
    ["CORS_ORIGINS", "shop.example.com"],
    ["CORS_ORIGINS", "*"],
    ["TRUSTED_PROXIES", "10.0.0.0/33"],
    ["TRUSTED_PROXIES", "10.0.0.7, nginx"],
    ["TRUSTED_PROXIES", "10/8"],
    ["API_KEYS", " , "],
  ] as const) {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  }
});

test("traces: off by default and with none; on with an endpoint or otlp; the standard variables read", () => {
  expect(loadConfig({}).tracing).toBeUndefined();
  expect(
    loadConfig({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }).tracing,
  ).toBeUndefined();
  expect(loadConfig({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" }).tracing).toBeUndefined();
  expect(loadConfig({ OTEL_TRACES_EXPORTER: "otlp" }).tracing).toMatchObject({
    endpoint: "http://localhost:4318/v1/traces",
    protocol: "http/protobuf",
    sampler: "parentbased_always_on",
    serviceName: "order-service",
  });
  expect(
    loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector.example.com/otlp/",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc,x-team=shop",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.1",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod",
    }).tracing,
  ).toMatchObject({
    endpoint: "https://collector.example.com/otlp/v1/traces",
    headers: { authorization: "Bearer abc", "x-team": "shop" },
    sampler: "parentbased_traceidratio",
    ratio: 0.1,
    resourceAttributes: { "deployment.environment": "prod" },
  });
  expect(
    loadConfig({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/custom",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://x",
    }).tracing?.endpoint,
  ).toBe("http://c:4318/custom");
  for (const [name, value] of [
    ["OTEL_TRACES_EXPORTER", "zipkin"],
    ["OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"],
    ["OTEL_TRACES_SAMPLER", "sometimes"],
    ["OTEL_TRACES_SAMPLER_ARG", "2"],
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"],
    ["OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign"],
  ] as const) {
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  }
});
