/**
 * The tracing settings, from the standard OpenTelemetry variables (the subset an OTLP/HTTP trace
 * exporter needs), read once at start-up like every other setting: tracing is off unless
 * OTEL_TRACES_EXPORTER is `otlp` or an OTLP endpoint is set, and OTEL_TRACES_EXPORTER=none or
 * OTEL_SDK_DISABLED=true turn it off.
 */
import { ConfigError, type Env, readBoolean, readInt, readNumber } from "./config-read.ts";

/** Which spans are kept: the OTEL_TRACES_SAMPLER names, with OTEL_TRACES_SAMPLER_ARG's ratio. */
export const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** Where and how spans are exported (OTLP over HTTP), and which are kept. */
export type TracingConfig = {
  /** The full URL spans are POSTed to (…/v1/traces). */
  endpoint: string;
  protocol: "http/protobuf" | "http/json";
  headers: Record<string, string>;
  sampler: SamplerName;
  /** The ratio of the ratio samplers, 0 to 1. */
  ratio: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  /** How long finished spans wait to be exported together (OTEL_BSP_SCHEDULE_DELAY). */
  scheduleDelayMs: number;
};

const DEFAULT_ENDPOINT = "http://localhost:4318";

/** `k1=v1,k2=v2`, values URL-encoded (the OTel list format). */
function readPairs(env: Env, name: string): Record<string, string> {
  const raw = env[name];
  if (!raw) return {};
  const pairs: Record<string, string> = {};
  for (const item of raw.split(",")) {
    if (item.trim() === "") continue;
    const at = item.indexOf("=");
    if (at <= 0)
      throw new ConfigError(name, `${name} must be key=value pairs separated by commas, got "${raw}"`);
    try {
      pairs[decodeURIComponent(item.slice(0, at).trim())] = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      throw new ConfigError(name, `${name} has a value that is not URL-encoded: "${item}"`);
    }
  }
  return pairs;
}

/** An http(s) URL, or a ConfigError naming `name`. */
function httpUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `${name} must be an http:// or https:// URL, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ConfigError(name, `${name} must be an http:// or https:// URL, got "${raw}"`);
  return url.href;
}

/** The traces endpoint: the signal's own URL as given, else the base URL with /v1/traces. */
function readEndpoint(env: Env): string {
  const own = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const general = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (own) return httpUrl("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", own);
  const base = httpUrl("OTEL_EXPORTER_OTLP_ENDPOINT", general || DEFAULT_ENDPOINT);
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

function readProtocol(env: Env): TracingConfig["protocol"] {
  const name = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const raw = env[name] || "http/protobuf";
  if (raw === "http/protobuf" || raw === "http/json") return raw;
  throw new ConfigError(
    name,
    `${name} must be http/protobuf or http/json (OTLP over HTTP; grpc is not supported), got "${raw}"`,
  );
}

/**
 * The tracing settings, or undefined when tracing is off. Every variable is read and checked
 * whether tracing is on or not, so a mistake shows at the first start, not at the one that turns
 * tracing on.
 */
export function readTracing(env: Env): TracingConfig | undefined {
  const disabled = readBoolean(env, "OTEL_SDK_DISABLED", false);
  const exporter = (env.OTEL_TRACES_EXPORTER ?? "").trim();
  if (exporter !== "" && exporter !== "otlp" && exporter !== "none")
    throw new ConfigError(
      "OTEL_TRACES_EXPORTER",
      `OTEL_TRACES_EXPORTER must be otlp or none, got "${exporter}"`,
    );
  const endpointSet = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const sampler = (env.OTEL_TRACES_SAMPLER || "parentbased_always_on") as SamplerName;
  if (!SAMPLERS.includes(sampler))
    throw new ConfigError(
      "OTEL_TRACES_SAMPLER",
      `OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(", ")}, got "${sampler}"`,
    );
  const tracing: TracingConfig = {
    endpoint: readEndpoint(env),
    protocol: readProtocol(env),
    headers: readPairs(env, "OTEL_EXPORTER_OTLP_HEADERS"),
    sampler,
    ratio: readNumber(env, "OTEL_TRACES_SAMPLER_ARG", 1, 0, 1),
    serviceName: env.OTEL_SERVICE_NAME || "order-service",
    resourceAttributes: readPairs(env, "OTEL_RESOURCE_ATTRIBUTES"),
    scheduleDelayMs: readInt(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, 0, 600_000),
  };
  // The signal's own headers replace the general ones (as the OTel exporters do).
  const ownHeaders = readPairs(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS");
  if (Object.keys(ownHeaders).length > 0) tracing.headers = ownHeaders;
  const on = exporter === "otlp" || (exporter === "" && endpointSet);
  return on && !disabled ? tracing : undefined;
}
