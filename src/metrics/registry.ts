/**
 * The service's Prometheus metrics (prom-client). (Skeleton: filled in by the production-readiness
 * work.)
 */

/** Every metric of the service, and what records into them. */
export type Metrics = ReturnType<typeof createMetrics>;

/** Creates the registry and the metrics. */
export function createMetrics() {
  return {};
}
