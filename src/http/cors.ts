/**
 * CORS, off unless CORS_ORIGINS lists origins: @elysiajs/cors adds the headers of the listed
 * origins to every answer; the policy answers their preflights itself (the plugin would answer a
 * preflight from any origin, and before the policy could log it).
 */
import { cors } from "@elysiajs/cors";

/** What a browser may send and read across origins. */
const CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "X-API-Key", "X-Request-Id"];
const CORS_EXPOSE_HEADERS = [
  "X-Request-Id",
  "Location",
  "Retry-After",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
];

/**
 * The headers of a preflight answer, beside the allowed origin the plugin sets: `methods` are
 * those the asked-about path answers (a browser may then DELETE a subscription); none for a path
 * that answers nothing, so the browser does not send the request.
 */
export function preflightHeaders(methods: string[]): Record<string, string> {
  const headers: Record<string, string> = {
    "access-control-allow-headers": CORS_ALLOW_HEADERS.join(", "),
    "access-control-max-age": "600",
  };
  if (methods.length > 0) headers["access-control-allow-methods"] = methods.join(", ");
  return headers;
}

/**
 * The plugin for `origins`: exact matches, by a function (the plugin's own string matching looks
 * origins up with `in` on a plain object, so `Origin: constructor` matched). Never credentials:
 * the plugin sends `Access-Control-Allow-Credentials: true` unless told otherwise.
 */
export function corsHeaders(origins: ReadonlySet<string>) {
  return cors({
    origin: (request) => origins.has(request.headers.get("origin") ?? ""),
    methods: ["GET", "POST", "DELETE"],
    allowedHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: CORS_EXPOSE_HEADERS,
    credentials: false,
    preflight: false,
  });
}
