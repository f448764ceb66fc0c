/**
 * The HTTP policy every request goes through before its route: request ids and access logs,
 * security headers and CORS, API keys and rate limits. (Backpressure on new orders wraps the
 * orders port: backpressure.ts.)
 *
 * Cost: one pair of lifecycle hooks does all of it, `onRequest` and `onAfterHandle` (errors are
 * recorded by the app's one error handler), and with the defaults (no keys, no rate limit, no
 * CORS) `onRequest` only names the request and stamps its start. The hooks with the request
 * metrics, and the access log on top, cost intake a few percent (figures: docs/PERFORMANCE.md).
 * The hooks read the context through `context.x` and never pass `context` itself to a function:
 * Elysia reads the hooks' source (sucrose) and would otherwise parse headers, query and cookies on
 * every route.
 */
import { Elysia, ElysiaCustomStatusResponse, StatusMap } from "elysia";
import type { Config } from "../config.ts";
import { toErrorBody } from "../kit/error-envelope.ts";
import { type AppError, rateLimited, unauthorized } from "../kit/errors.ts";
import { createAccessLog, type Logger } from "../kit/logger.ts";
import { createKeyMatcher, presentedKey } from "./api-keys.ts";
import type { PendingOrders } from "./backpressure.ts";
import { corsHeaders, preflightHeaders } from "./cors.ts";
import { RateLimiter } from "./rate-limit.ts";
import { requestIdOf } from "./request-id.ts";

/** What the policy needs. */
export type HttpPolicyDeps = {
  config: Config;
  log: Logger;
  /** Orders now pending (cached, cheap): the backlog that MAX_PENDING_ORDERS bounds. */
  pendingOrders: PendingOrders;
  /** Told of every answered request, once (the request metrics listen here). */
  onResponse: (info: ResponseInfo) => void;
};

/** One answered request: `route` is the route template (`/orders/:order_id`), never the raw path. */
export type ResponseInfo = {
  method: string;
  route: string;
  status: number;
  durationMs: number;
  requestId: string;
};

/** What the policy asks of the app it guards. */
export type PolicyHost = {
  /** The route template a method and path would reach, or `unmatched`: for requests refused early. */
  routeOf: (method: string, path: string) => string;
  /** The methods a path answers (a CORS preflight names them). */
  methodsOf: (path: string) => string[];
  /** The listening server, to read a client's address (rate limits without an API key). */
  server: () => { requestIP(request: Request): { address: string } | null } | null;
};

/** Headers of every answer: no MIME sniffing, no caching of answers that change with every order. */
const SECURITY_HEADERS = { "x-content-type-options": "nosniff", "cache-control": "no-store" };

/** The path of a request URL, as Bun parsed it (scheme://host/path?query). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query === -1 ? undefined : query);
}

/** A path without its one trailing slash: Elysia routes `/health/` to `/health`. */
const trimSlash = (path: string) => (path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path);

/** A ready answer in the envelope: an `AppError` with extra headers, its body built once. */
function cannedAnswer(error: AppError, headers: Record<string, string> = {}) {
  const body = JSON.stringify(toErrorBody(error));
  const init = {
    status: error.status,
    headers: { "content-type": "application/json;charset=utf-8", ...headers },
  };
  return () => new Response(body, init);
}

/** The probes: never rate-limited, never behind a key. */
export const PROBE_PATHS: readonly string[] = ["/health", "/ready"];

/**
 * The API paths that answer without a key when keys are on: the probes always, /metrics unless
 * METRICS_PUBLIC=false. (/swagger and everything under it follow DOCS_PUBLIC.)
 */
export function openPaths(config: Pick<Config, "metricsPublic" | "dashboardPublic">): string[] {
  return [
    ...PROBE_PATHS,
    ...(config.metricsPublic ? ["/metrics"] : []),
    ...(config.dashboardPublic ? ["/dashboard/data"] : []),
  ];
}

const standalone: PolicyHost = { routeOf: () => "unmatched", methodsOf: () => [], server: () => null };

/**
 * The policy: a global Elysia plugin, and how the app's error handler records the requests it
 * answers.
 */
export function httpPolicy(deps: HttpPolicyDeps, host: PolicyHost = standalone) {
  const { config, log, onResponse } = deps;
  const accessLog = createAccessLog(config.logLevel);
  const matchKey = config.apiKeys.length > 0 ? createKeyMatcher(config.apiKeys) : undefined;
  const limiter = config.rateLimitPerS > 0 ? new RateLimiter(config.rateLimitPerS) : undefined;
  const corsOrigins = new Set(config.corsOrigins);
  const checks = matchKey !== undefined || limiter !== undefined || corsOrigins.size > 0;

  const answerUnauthorized = cannedAnswer(unauthorized(), { "www-authenticate": "Bearer" });
  const answerRateLimited = cannedAnswer(rateLimited(config.rateLimitPerS), { "retry-after": "1" });
  const limitText = String(config.rateLimitPerS);

  /** Whether `path` answers without a key. */
  const open = new Set(openPaths(config));
  // The dashboard's page and assets hold no data: a browser loads them without a key, and the page
  // asks for one when /dashboard/data needs it.
  const isOpen = (path: string) =>
    open.has(path) ||
    path === "/dashboard" ||
    path.startsWith("/dashboard/assets/") ||
    (config.docsPublic && (path === "/swagger" || path.startsWith("/swagger/")));

  /** Records one answered request: the access log line and the request metrics. */
  function finish(method: string, route: string, status: number, startedAt: number, requestId: string) {
    const info = { method, route, status, durationMs: performance.now() - startedAt, requestId };
    accessLog?.(info);
    onResponse(info);
  }

  const plugin = new Elysia({ name: "http-policy" }).headers(SECURITY_HEADERS).decorate({
    /** This request's id: the client's X-Request-Id if sane, else a new one. */
    requestId: "",
    /** When the policy first saw this request (performance.now()). */
    requestStartedAt: 0,
  });
  // CORS first, so its headers are on every answer, our early 401 and 429 included. Preflights
  // are answered below, and only for the configured origins (the plugin would answer any origin).
  if (corsOrigins.size > 0) plugin.use(corsHeaders(corsOrigins));
  // Said once the service listens, so a service that cannot start says only why.
  if (!matchKey) {
    plugin.onStart(() => log("warn", "API_KEYS is not set: every route answers without an API key"));
  } else if (config.dashboardPublic) {
    // As the issue asked, the dashboard's data follows /metrics by default; unlike /metrics it
    // names orders and users (the latest failures), so say so where operators look.
    plugin.onStart(() =>
      log(
        "warn",
        "GET /dashboard/data answers without an API key (DASHBOARD_PUBLIC): it lists the latest failed orders with their order and user ids and errors; set DASHBOARD_PUBLIC=false to require a key",
      ),
    );
  }
  plugin
    .onRequest(function applyPolicy(context) {
      context.requestStartedAt = performance.now();
      const requestId = requestIdOf(context.request.headers.get("x-request-id"));
      context.requestId = requestId;
      context.set.headers["x-request-id"] = requestId;
      if (!checks) return;

      const request = context.request;
      const method = request.method;
      // The path Elysia routes by and the path in the URL differ for some Host headers (Elysia
      // looks for the path from the 11th character on): a path is open only if both say so.
      const path = trimSlash(pathOf(request.url));
      // `path` is on the context at run time (and read by sucrose), not in onRequest's type.
      const routedPath = trimSlash((context as unknown as { path?: string }).path ?? path);
      const early = (status: number, answer: () => Response) => {
        finish(method, host.routeOf(method, routedPath), status, context.requestStartedAt, requestId);
        return answer();
      };
      // A preflight of a listed origin is answered before the key check (browsers send no key
      // with it), but counts against the rate limit like any request of that client.
      const preflight =
        method === "OPTIONS" &&
        context.set.headers["access-control-allow-origin"] !== undefined &&
        request.headers.get("access-control-request-method") !== null;
      const probe = PROBE_PATHS.includes(path) && PROBE_PATHS.includes(routedPath);
      if (probe && !preflight) return;
      const keyIndex = matchKey ? matchKey(presentedKey(request.headers)) : -1;
      if (limiter && !probe) {
        // Keyed by the index of the API key, never the key; without one, by the client's address.
        const client =
          keyIndex >= 0 ? `key:${keyIndex}` : (host.server()?.requestIP(request)?.address ?? "unknown");
        const verdict = limiter.take(client, Date.now());
        context.set.headers["ratelimit-limit"] = limitText;
        context.set.headers["ratelimit-remaining"] = String(verdict.remaining);
        context.set.headers["ratelimit-reset"] = String(verdict.resetS);
        if (!verdict.allowed) return early(429, answerRateLimited);
      }
      if (preflight) {
        const headers = preflightHeaders(host.methodsOf(routedPath));
        return early(204, () => new Response(null, { status: 204, headers }));
      }
      if (matchKey && keyIndex === -1 && !(isOpen(path) && isOpen(routedPath))) {
        return early(401, answerUnauthorized);
      }
    })
    // Not onAfterResponse: Elysia runs that through a setImmediate of an async function for every
    // request, a cost of its own on every answer (figures: docs/PERFORMANCE.md). After the handler
    // the route, the status and the answer are known; errors are recorded by the error handler.
    .onAfterHandle({ as: "global" }, function recordAnswer(context) {
      const value = context.responseValue;
      // A handler's own Response (GET /orders returns one) keeps its status out of `set.status`.
      const status =
        value instanceof Response
          ? value.status
          : value instanceof ElysiaCustomStatusResponse
            ? value.code
            : statusCode(context.set.status);
      finish(
        context.request.method,
        context.route || "unmatched",
        status,
        context.requestStartedAt,
        context.requestId,
      );
      // Recorded: an error after this (a response that fails its schema) is not counted again.
      context.requestStartedAt = -1;
    });

  return {
    /** The plugin: `.use()` it before any route. */
    plugin,
    /**
     * Records a request the error handler answered (onAfterHandle does not run for errors), once
     * its status is known; `route` is the matched template, if any.
     */
    recordError(
      method: string,
      route: string | undefined,
      status: number,
      startedAt: number,
      requestId: string,
    ) {
      if (startedAt >= 0) finish(method, route || "unmatched", status, startedAt, requestId);
    },
  };
}

/** `set.status` as a number (Elysia also accepts a status name). */
function statusCode(status: number | string | undefined): number {
  if (typeof status === "number") return status;
  return (status && (StatusMap as Record<string, number>)[status]) || 200;
}
