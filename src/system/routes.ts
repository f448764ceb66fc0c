/**
 * Operational routes: `/metrics` (the seed's JSON, or Prometheus' text format when asked for),
 * `/health` (liveness), `/ready` (readiness).
 */

import { Elysia, t } from "elysia";
import { invalidQuery, notReady, validationFailed } from "../kit/errors.ts";
import { checkQuery } from "../kit/query-string.ts";
import { contract } from "../kit/route-contract.ts";
import { ORDER_STATUSES } from "../records/order.ts";
import { metricsFormat } from "./metrics-format.ts";
import { checkWritable } from "./readiness.ts";
import type { SystemStore } from "./store.ts";

/** What the operational routes need to know. */
export type SystemDeps = {
  store: SystemStore;
  workers: () => { ready: number; expected: number };
  /** The Prometheus exposition of the service's metrics (src/metrics/): its content type and text. */
  prometheus: { contentType: string; render: () => Promise<string> };
};

const StatusCounts = t.Object(Object.fromEntries(ORDER_STATUSES.map((status) => [status, t.Integer()])));

export const MetricsView = t.Object(
  {
    total_orders: t.Integer(),
    average_processing_time: t.Number({
      description: "Mean completed_at - started_at of completed orders, seconds",
    }),
    status_counts: StatusCounts,
  },
  {
    examples: [
      {
        total_orders: 42,
        average_processing_time: 0.5,
        status_counts: { pending: 2, processing: 5, completed: 35, failed: 0, cancelled: 0 },
      },
    ],
  },
);
export type MetricsView = typeof MetricsView.static;

/** Reads the running totals: constant time at any number of orders. */
export async function getMetrics(store: SystemStore): Promise<MetricsView> {
  const { byStatus, completedProcessingMs } = await store.countOrders();
  const completed = byStatus.completed;
  return {
    total_orders: Object.values(byStatus).reduce((sum, n) => sum + n, 0),
    average_processing_time: completed === 0 ? 0 : completedProcessingMs / completed / 1000,
    status_counts: byStatus,
  };
}

/** The Prometheus text, as a Response of its own: it is not the JSON view the schema describes. */
async function renderPrometheus(prometheus: SystemDeps["prometheus"]): Promise<Response> {
  const text = await prometheus.render();
  return new Response(text, { headers: { "content-type": prometheus.contentType } });
}

/** Ready when a write commits and every worker thread is up; otherwise a 503 saying which is not. */
export async function checkReadiness(deps: SystemDeps) {
  const workers = deps.workers();
  let database = "writable";
  try {
    await checkWritable(deps.store, Date.now());
  } catch (error) {
    database = `not writable: ${error instanceof Error ? error.message : String(error)}`;
  }
  const problems = [
    ...(database === "writable" ? [] : [`database ${database}`]),
    ...(workers.ready < workers.expected
      ? [`${workers.ready} of ${workers.expected} worker threads are up`]
      : []),
  ];
  if (problems.length > 0) throw notReady(problems, { database, workers });
  return { status: "ready" as const, database, workers };
}

/** The `/metrics`, `/health` and `/ready` routes. */
export function systemRoutes(deps: SystemDeps) {
  return new Elysia({ name: "system", detail: { tags: ["System"] } })
    .get(
      "/metrics",
      ({ request, query }) =>
        metricsFormat(request.headers.get("accept"), query.format) === "json"
          ? getMetrics(deps.store)
          : renderPrometheus(deps.prometheus),
      {
        // Decodable, and `format` at most once (a repeated one took the last value).
        transform: ({ request }) => checkQuery(request.url),
        ...contract({
          access: "metrics",
          errors: [
            invalidQuery("format=%FF"),
            validationFailed([{ field: "format", message: "must be json or prometheus" }], "query"),
          ],
          response: { 200: MetricsView },
          detail: {
            summary: "Order totals by status and mean processing time",
            description:
              "JSON by default. Prometheus' text format (version 0.0.4) with ?format=prometheus, or when " +
              "the Accept header prefers text/plain or application/openmetrics-text to JSON, as " +
              "Prometheus' scraper does: request durations, orders created and their transitions, " +
              "retries and failures, queue wait and processing times, worker slots, the database " +
              "writer's batches, commits and fsyncs, process memory and event-loop lag.",
            // Documented, not a query schema: with one, any other parameter would become a 422.
            parameters: [
              {
                name: "format",
                in: "query",
                required: false,
                description: "json (the default) or prometheus (the text format 0.0.4, whatever Accept says)",
                schema: { type: "string", enum: ["json", "prometheus"] },
              },
            ],
          },
        }),
      },
    )
    .get(
      "/health",
      () => ({ status: "ok" as const }),
      contract({
        access: "probe",
        response: { 200: t.Object({ status: t.Literal("ok") }) },
        detail: { summary: "Liveness: 200 while the process is alive" },
      }),
    )
    .get(
      "/ready",
      () => checkReadiness(deps),
      contract({
        access: "probe",
        errors: [
          notReady(["1 of 4 worker threads are up"], {
            database: "writable",
            workers: { ready: 1, expected: 4 },
          }),
        ],
        response: {
          200: t.Object({
            status: t.Literal("ready"),
            database: t.String(),
            workers: t.Object({ ready: t.Integer(), expected: t.Integer() }),
          }),
        },
        detail: { summary: "Readiness: the database is writable and every worker thread is up" },
      }),
    );
}
