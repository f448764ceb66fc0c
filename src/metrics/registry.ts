/**
 * The service's Prometheus metrics: one prom-client registry per service instance (tests run
 * several in one process, so never the global one). Only src/metrics/ imports prom-client; the
 * rest of the service reports plain numbers through hooks (the HTTP policy's `onResponse`, the
 * queue's observer, the storage writer's `onBatches`), and server.ts wires them here.
 *
 * The exposition is the text format 0.0.4, to every scraper: Prometheus 2.x and 3.x both accept
 * it, while rendering OpenMetrics with prom-client 15 renames counters for good (it strips their
 * `_total`, and every later text render keeps the stripped name: checked with prom-client 15.1.3).
 */
import { Registry } from "prom-client";
import { createHttpMetrics } from "./http.ts";
import { collectProcessMetrics } from "./process.ts";
import { createQueueMetrics } from "./queue.ts";
import { createRetentionMetrics } from "./retention.ts";
import { type WebhookSources, watchWebhooks } from "./webhooks.ts";
import { createWriteMetrics } from "./writes.ts";

/** Every metric of the service, and what records into them. */
export type Metrics = ReturnType<typeof createMetrics>;

/** Creates the registry and the metrics, on the main thread. */
export function createMetrics() {
  const registry = new Registry<typeof Registry.PROMETHEUS_CONTENT_TYPE>();
  collectProcessMetrics(registry);
  const http = createHttpMetrics(registry);
  const queue = createQueueMetrics(registry);
  return {
    /** The exposition: its content type and a render that runs every scrape-time read. */
    prometheus: {
      contentType: Registry.PROMETHEUS_CONTENT_TYPE as string,
      render: () => registry.metrics(),
    },
    observeRequest: http.observeRequest,
    knowRoutes: http.knowRoutes,
    /** The dispatcher's observer (claims, outcomes, releases). */
    queue: queue.observer,
    orderCreated: queue.created,
    orderChanged: queue.changed,
    watch: queue.watch,
    /** Registers the webhooks' backlog gauges over `sources` (metrics/webhooks.ts). */
    watchWebhooks: (sources: WebhookSources) => watchWebhooks(registry, sources),
    /** The storage writer's committed batches. */
    observeBatches: createWriteMetrics(registry),
    /** Rows the pruner deleted. */
    pruned: createRetentionMetrics(registry),
  };
}
