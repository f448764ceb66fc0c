/**
 * Process metrics from prom-client's defaults, kept to those that are right on Bun and cover the
 * whole process: CPU, resident and virtual memory, open file descriptors, start time, the version,
 * and the main thread's event-loop lag (the thread that answers HTTP; its own name says whose loop).
 * Main thread only: in a worker, per-thread RSS would be summed (190 MB reported for 65 MB real).
 */
import { collectDefaultMetrics, type Registry } from "prom-client";

// Checked on Bun 1.4.5 with prom-client 15.1.3: on Bun these read wrong, stay empty, or are silently
// the main thread's alone (each one's reading beside it; docs/ARCHITECTURE.md, "Metrics").
const DROPPED = [
  "process_heap_bytes", // the virtual size (~6.5 GB), not a heap
  "nodejs_gc_duration_seconds", // never observed
  "nodejs_active_handles", // always 0, as are the five below
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
  "nodejs_active_resources",
  "nodejs_active_resources_total",
  "nodejs_heap_size_total_bytes", // the main thread's heap alone, not the workers' or the writer's
  "nodejs_heap_size_used_bytes",
  "nodejs_external_memory_bytes",
  "nodejs_heap_space_size_total_bytes", // also: every space but `old` reads 0
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
];

/** Registers the process metrics that hold on Bun; call once per registry, on the main thread. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of DROPPED) registry.removeSingleMetric(name);
}
