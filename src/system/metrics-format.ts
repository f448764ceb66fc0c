/**
 * Which format `GET /metrics` answers in: the seed's JSON unless the request asks for Prometheus'
 * text exposition, by `?format=prometheus` or by an `Accept` header that prefers it, as every
 * Prometheus scraper's does (2.x names OpenMetrics at q=1, `text/plain;version=0.0.4` at q=0.5 and
 * any type at q=0.1; 3.x the same with `escaping=allow-utf-8` and other weights).
 */
import { validationFailed } from "../kit/errors.ts";

/** The two formats of `/metrics`. */
export type MetricsFormat = "json" | "prometheus";

// Media types a Prometheus scraper names: both get the text format 0.0.4 (see src/metrics/).
const PROMETHEUS_TYPES = new Set(["text/plain", "application/openmetrics-text"]);

/** The `q` of one media range (1 when absent; 0 when unreadable, as if refused). */
function quality(params: string[]): number {
  for (const param of params) {
    const [name = "", value = ""] = param.split("=").map((part) => part.trim());
    if (name.toLowerCase() !== "q") continue;
    const q = Number(value);
    return value !== "" && q >= 0 && q <= 1 ? q : 0;
  }
  return 1;
}

/**
 * True when `accept` names a Prometheus type with a higher `q` than JSON gets (by name, else
 * through the `application` or the any-type wildcard: the most specific range decides, RFC 9110
 * §12.5.1). A tie, a wildcard alone or a browser's header keep the JSON.
 */
export function prefersPrometheus(accept: string): boolean {
  let prometheus = 0;
  let json: number | undefined;
  let applicationAny: number | undefined;
  let any: number | undefined;
  for (const range of accept.split(",")) {
    const [type = "", ...params] = range.split(";");
    const media = type.trim().toLowerCase();
    const q = quality(params);
    if (PROMETHEUS_TYPES.has(media)) prometheus = Math.max(prometheus, q);
    else if (media === "application/json") json = Math.max(json ?? 0, q);
    else if (media === "application/*") applicationAny = Math.max(applicationAny ?? 0, q);
    else if (media === "*/*") any = Math.max(any ?? 0, q);
  }
  return prometheus > (json ?? applicationAny ?? any ?? 0);
}

/** The format asked for: `?format=` decides if given (422 if it names neither), then `Accept`. */
export function metricsFormat(accept: string | null, format: unknown): MetricsFormat {
  if (format === "json" || format === "prometheus") return format;
  if (format !== undefined) {
    throw validationFailed([{ field: "format", message: "must be json or prometheus" }], "query");
  }
  return accept !== null && prefersPrometheus(accept) ? "prometheus" : "json";
}
