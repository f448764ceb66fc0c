/**
 * The OpenAPI document the service publishes, built in-process on stub storage ports (the document
 * needs no database): for `bun run lint:openapi` and the client types of `bun run build:client`.
 */
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import type { Dashboard } from "../src/dashboard/service.ts";
import type { EventFeed } from "../src/events/feed.ts";
import type { EventStore } from "../src/events/store.ts";
import { createLogger } from "../src/kit/logger.ts";
import type { OrderStore } from "../src/orders/store.ts";
import type { SystemStore } from "../src/system/store.ts";
import type { WebhookStore } from "../src/webhooks/store.ts";

/** A port whose every method throws: building the document must not touch storage. */
function unusedPort<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_target, method) => () => {
      throw new Error(`${name}.${String(method)} called while building the OpenAPI document`);
    },
  });
}

/** The document as the app serves it at /swagger/json, with the configuration of `env`. */
export async function servedDocument(env: Record<string, string> = {}): Promise<unknown> {
  const config = loadConfig({ LOG_LEVEL: "silent", ...env });
  const log = createLogger("silent");
  const app = createApp({
    orders: {
      store: unusedPort<OrderStore>("OrderStore"),
      now: Date.now,
      onOrderStored: () => {},
      onOrderRetried: () => {},
      defaultCurrency: config.defaultCurrency,
      maxAttempts: config.maxAttempts,
      feed: unusedPort<EventFeed>("EventFeed"),
    },
    events: {
      feed: unusedPort<EventFeed>("EventFeed"),
      store: unusedPort<EventStore>("EventStore"),
      oldestEvent: async () => undefined,
      heartbeatMs: 15_000,
      maxQueued: 10_000,
      stallMs: 30_000,
    },
    webhooks: {
      store: unusedPort<WebhookStore>("WebhookStore"),
      policy: { allowedHosts: [] },
      maxWebhooks: 100,
      laggingAfterMs: 60_000,
      now: Date.now,
      onSubscribed: () => {},
    },
    dashboard: unusedPort<Dashboard>("Dashboard"),
    system: {
      store: unusedPort<SystemStore>("SystemStore"),
      workers: () => ({ ready: 0, expected: 0 }),
      prometheus: { contentType: "text/plain; version=0.0.4", render: async () => "" },
    },
    http: { config, log, pendingOrders: () => 0, onResponse: () => {} },
    log,
  });
  // The document is public by default (DOCS_PUBLIC), with keys on too.
  const response = await app.handle(new Request("http://localhost/swagger/json"));
  if (!response.ok)
    throw new Error(`GET /swagger/json answered ${response.status}: ${await response.text()}`);
  return response.json();
}
