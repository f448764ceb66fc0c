/**
 * Everything the service needs from a database: the features' ports together. An adapter under
 * src/db/ returns one; `open-storage.ts` picks the adapter (PostgreSQL when DATABASE_URL is set,
 * else SQLite), and nothing above it knows which one it got.
 */
import type { DashboardStore } from "./dashboard/store.ts";
import type { EventStore } from "./events/store.ts";
import type { OrderStore } from "./orders/store.ts";
import type { QueueStore } from "./queue/store.ts";
import type { RetentionStore } from "./retention/store.ts";
import type { SystemStore } from "./system/store.ts";
import type { ThreadStoreOpener, WebhookStore } from "./webhooks/store.ts";

/** One open database behind the ports. */
export type Storage = {
  orders: OrderStore;
  queue: QueueStore;
  system: SystemStore;
  events: EventStore;
  webhooks: WebhookStore;
  dashboard: DashboardStore;
  retention: RetentionStore;
  /** How the webhook sender's thread opens a webhooks port of its own (one call per thread started). */
  webhooksForThread(): ThreadStoreOpener;
  /** Makes every write so far durable, then closes; safe to call twice. */
  close(): Promise<void>;
};
