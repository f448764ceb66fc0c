/**
 * The HTTP policy every request goes through before its route: request ids and access logs,
 * security headers and CORS, API keys and rate limits (those checks: admission.ts, as each route's
 * declared access says). (Backpressure on new orders wraps the orders port: backpressure.ts.)
 *
 * Cost: one pair of lifecycle hooks does all of it, `onRequest` and `onAfterHandle` (errors are
 * recorded by the app's one error handler), and with the defaults (no keys, no rate limit, no
 * CORS) `onRequest` only names the request, stamps its start and, for the access log, reads the
 * client's address (one `requestIP`; X-Forwarded-For only behind TRUSTED_PROXIES, client-address.ts;
 * not measured on its own). The hooks with the request
 * metrics, and the access log on top, cost intake a few percent (figures: docs/PERFORMANCE.md).
 * The hooks read the context through `context.x` and never pass `context` itself to a function:
 * Elysia reads the hooks' source (sucrose) and would otherwise parse headers, query and cookies on
 * every route.
 */
import { Elysia, ElysiaCustomStatusResponse, StatusMap } from "elysia";
import type { Config } from "../config.ts";
import { createAccessLog, type Logger } from "../kit/logger.ts";
import { requestSpans } from "../tracing/requests.ts";
import type { Tracing } from "../tracing/tracing.ts";
import { admission, type Finish, type PolicyHost } from "./admission.ts";
import type { PendingOrders } from "./backpressure.ts";
import { clientAddressResolver } from "./client-address.ts";
import { corsHeaders } from "./cors.ts";
import { requestIdOf } from "./request-id.ts";
import { trimSlash } from "./route-table.ts";

export type { PolicyHost } from "./admission.ts";

/** What the policy needs. */
export type HttpPolicyDeps = {
  config: Config;
  log: Logger;
  /** Orders now pending (cached, cheap): the backlog that MAX_PENDING_ORDERS bounds. */
  pendingOrders: PendingOrders;
  /** Told of every answered request, once (the request metrics listen here). */
  onResponse: (info: ResponseInfo) => void;
  /** Traces (OTEL_*): a span per request, continuing the client's traceparent. */
  tracing?: Tracing;
};

/** One answered request: `route` is the route template (`/orders/:order_id`), never the raw path. */
export type ResponseInfo = {
  method: string;
  route: string;
  status: number;
  durationMs: number;
  requestId: string;
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

const standalone: PolicyHost = {
  routeOf: () => "unmatched",
  methodsOf: () => [],
  accessOf: () => "key",
  server: () => null,
};

/**
 * What to say once the service listens (so a service that cannot start says only why) about the
 * routes that answer without a key, if anything.
 */
function accessWarning(config: Config): string | undefined {
  if (config.apiKeys.length === 0) return "API_KEYS is not set: every route answers without an API key";
  // As the issue asked, the dashboard's data follows /metrics by default; unlike /metrics it
  // names orders and users (the latest failures), so say so where operators look.
  if (config.dashboardPublic)
    return "GET /dashboard/data answers without an API key (DASHBOARD_PUBLIC): it lists the latest failed orders with their order and user ids and errors, and the origins of webhook receivers that are behind; set DASHBOARD_PUBLIC=false to require a key";
  return undefined;
}

/**
 * How a request's client address is read, once, for the access log (`logged`) and the rate limit;
 * undefined when neither uses it. Behind no trusted proxy it is the peer's address as Bun gives it,
 * and X-Forwarded-For is never looked at.
 */
function clientReader(config: Config, host: PolicyHost, logged: boolean) {
  if (!logged && config.rateLimitPerS === 0) return undefined;
  const resolve = clientAddressResolver(config.trustedProxies);
  return (request: Request) => {
    const peer = host.server()?.requestIP(request)?.address ?? "unknown";
    return resolve ? resolve(peer, request.headers) : peer;
  };
}

/**
 * The policy: a global Elysia plugin, and how the app's error handler records the requests it
 * answers.
 */
export function httpPolicy(deps: HttpPolicyDeps, host: PolicyHost = standalone) {
  const { config, log, onResponse } = deps;
  const accessLog = createAccessLog(config.logLevel);
  const corsOrigins = new Set(config.corsOrigins);
  const checks = config.apiKeys.length > 0 || config.rateLimitPerS > 0 || corsOrigins.size > 0;
  const clientOf = clientReader(config, host, accessLog !== undefined);
  const spans = deps.tracing && requestSpans(deps.tracing);
  /** Records one answered request: its span, the access log line and the request metrics. */
  const finish: Finish = (method, route, status, startedAt, requestId, client, request) => {
    const info = { method, route, status, durationMs: performance.now() - startedAt, requestId, client };
    const ids = spans && request && spans.end(request, method, route, status);
    accessLog?.(ids ? { ...info, ...ids } : info);
    onResponse(info);
  };
  const admit = admission(config, host, finish);
  const plugin = new Elysia({ name: "http-policy" }).headers(SECURITY_HEADERS).decorate({
    /** This request's id: the client's X-Request-Id if sane, else a new one. */
    requestId: "",
    /** When the policy first saw this request (performance.now()). */
    requestStartedAt: 0,
    /** The client's address (TRUSTED_PROXIES), or "" when neither the log nor the limit wants it. */
    clientAddress: "",
  });
  // CORS first, so its headers are on every answer, our early 401 and 429 included. Preflights
  // are answered below, and only for the configured origins (the plugin would answer any origin).
  if (corsOrigins.size > 0) plugin.use(corsHeaders(corsOrigins));
  const warning = accessWarning(config);
  if (warning) plugin.onStart(() => log("warn", warning));
  plugin
    .onRequest(function applyPolicy(context) {
      context.requestStartedAt = performance.now();
      const requestId = requestIdOf(context.request.headers.get("x-request-id"));
      context.requestId = requestId;
      context.set.headers["x-request-id"] = requestId;
      if (clientOf) context.clientAddress = clientOf(context.request);
      if (spans) spans.start(context.request, requestId);
      if (!checks) return;
      // Elysia looks for the path from the 11th character of the URL on, so for some Host headers
      // it routes by another path than the URL's: the checks look at both.
      const path = trimSlash(pathOf(context.request.url));
      // `path` is on the context at run time (and read by sucrose), not in onRequest's type.
      const routedPath = trimSlash((context as unknown as { path?: string }).path ?? path);
      return admit({
        request: context.request,
        path,
        routedPath,
        headers: context.set.headers,
        startedAt: context.requestStartedAt,
        requestId,
        client: context.clientAddress,
      });
    })
    // Not onAfterResponse: Elysia runs that through a setImmediate of an async function for every
    // request, a cost of its own on every answer (figures: docs/PERFORMANCE.md). After the handler
    // the route, the status and the answer are known; errors are recorded by the error handler.
    .onAfterHandle({ as: "global" }, function recordAnswer(context) {
      finish(
        context.request.method,
        context.route || "unmatched",
        answeredStatus(context.responseValue, context.set.status),
        context.requestStartedAt,
        context.requestId,
        context.clientAddress,
        context.request,
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
      request: Request,
      route: string | undefined,
      status: number,
      startedAt: number,
      requestId: string,
      client: string,
    ) {
      if (startedAt >= 0)
        finish(request.method, route || "unmatched", status, startedAt, requestId, client, request);
    },
    /** The traceparent an order created by `request` keeps (tracing on), else null. */
    traceparentOf: (request: Request): string | null => spans?.traceparentOf(request) ?? null,
  };
}

/**
 * The status of an answer: a handler's own Response (GET /orders returns one) keeps its status out
 * of `set.status`, which may also hold a status name.
 */
function answeredStatus(value: unknown, status: number | string | undefined): number {
  if (value instanceof Response) return value.status;
  if (value instanceof ElysiaCustomStatusResponse) return value.code;
  if (typeof status === "number") return status;
  return (status && (StatusMap as Record<string, number>)[status]) || 200;
}
