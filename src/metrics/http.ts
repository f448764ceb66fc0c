/** Request durations by method, route template and status, told by the HTTP policy's hook. */
import { Histogram, type Registry } from "prom-client";
import type { ResponseInfo } from "../http/policy.ts";

/** The route label of a request no route matched: one fixed value, never the raw path. */
export const UNMATCHED_ROUTE = "unmatched";
/** The method label of a method the API does not use (any token is a valid method on the wire). */
export const OTHER_METHOD = "OTHER";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
// From a status read (under a millisecond) to a listing that waited behind others under load (seconds).
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The request histogram; `observeRequest` labels only known route templates, the rest `unmatched`. */
export function createHttpMetrics(registry: Registry) {
  const durations = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time to answer a request, from its arrival to its response, by method, route template and status",
    labelNames: ["method", "route", "status"],
    buckets: BUCKETS,
    registers: [registry],
  });
  let routes = new Set<string>();

  return {
    /** The app's route templates: any other `route` (a raw path, an empty one) is `unmatched`. */
    knowRoutes(templates: Iterable<string>): void {
      routes = new Set(templates);
    },

    /** Records one answered request: one labelled observation (figures: docs/PERFORMANCE.md). */
    observeRequest(info: ResponseInfo): void {
      durations.observe(
        {
          method: METHODS.has(info.method) ? info.method : OTHER_METHOD,
          route: routes.has(info.route) ? info.route : UNMATCHED_ROUTE,
          status: info.status,
        },
        info.durationMs / 1000,
      );
    },
  };
}
