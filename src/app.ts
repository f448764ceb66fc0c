/**
 * Builds the Elysia app from its dependencies. It never listens, so tests can drive it with
 * `app.handle(new Request(...))` or serve it on a port of their choosing.
 */
import { Elysia } from "elysia";
import { dashboardRoutes } from "./dashboard/routes.ts";
import type { Dashboard } from "./dashboard/service.ts";
import { apiDocs } from "./docs.ts";
import { type EventDeps, eventRoutes } from "./events/routes.ts";
import { boundPendingOrders, OVERLOADED_RETRY_AFTER_S } from "./http/backpressure.ts";
import { type HttpPolicyDeps, httpPolicy, type PolicyHost } from "./http/policy.ts";
import { routeTable } from "./http/route-table.ts";
import { toAppError, toErrorBody } from "./kit/error-envelope.ts";
import { type AppError, methodNotAllowed, routeNotFound } from "./kit/errors.ts";
import type { Logger } from "./kit/logger.ts";
import { orderRoutes } from "./orders/routes.ts";
import type { OrderDeps } from "./orders/service.ts";
import { type SystemDeps, systemRoutes } from "./system/routes.ts";
import { webhookRoutes } from "./webhooks/routes.ts";
import type { WebhookDeps } from "./webhooks/service.ts";

/** Everything the HTTP layer needs: the features' dependencies (their ports among them). */
export type AppDeps = {
  orders: OrderDeps;
  events: EventDeps;
  webhooks: WebhookDeps;
  dashboard: Dashboard;
  system: SystemDeps;
  http: HttpPolicyDeps;
  log: Logger;
};

/** Headers some errors add to their answer. */
function headersFor(error: AppError): Record<string, string> | undefined {
  switch (error.code) {
    case "OVERLOADED":
      return { "retry-after": String(OVERLOADED_RETRY_AFTER_S) };
    case "REQUEST_TIMEOUT":
      // The rest of the body may still be on its way: the connection cannot carry another request.
      return { connection: "close" };
    default:
      return undefined;
  }
}

/**
 * The whole HTTP API behind the one HTTP policy and error handler: orders (submit, read, list,
 * cancel, retry, their history and status long-poll), the event stream (`GET /events`), webhooks
 * and their deliveries, the dashboard (`/dashboard`, `/dashboard/data`), metrics, health and
 * readiness, and the OpenAPI document with Swagger UI.
 */
export function createApp(deps: AppDeps) {
  const { config } = deps.http;
  // Read once the app has its routes: the policy labels early refusals, names a path's methods,
  // reads each route's declared access, and reads client addresses from the server.
  const routes = routeTable(() => app.routes);
  const host: PolicyHost = { ...routes, server: () => null };
  const policy = httpPolicy(deps.http, host);
  const orders = {
    ...deps.orders,
    store: boundPendingOrders(deps.orders.store, deps.http.pendingOrders, config.maxPendingOrders),
    ...(deps.http.tracing ? { traceparentOf: policy.traceparentOf } : {}),
  };
  const app = new Elysia({ normalize: false }) // normalize: false: unknown fields are an error, not dropped
    .use(policy.plugin)
    .use(
      apiDocs({
        apiKeysOn: config.apiKeys.length > 0,
        publicSwitches: {
          metricsPublic: config.metricsPublic,
          dashboardPublic: config.dashboardPublic,
          docsPublic: config.docsPublic,
        },
        rateLimitPerS: config.rateLimitPerS,
      }),
    )
    .onError(({ code, error, set, request, route, requestId, requestStartedAt, clientAddress }) => {
      let appError = code === "NOT_FOUND" ? routeNotFound() : toAppError(error, deps.log, requestId);
      if (code === "NOT_FOUND") {
        const allowed = routes.methodsOf(new URL(request.url).pathname);
        if (allowed.length > 0) {
          appError = methodNotAllowed(request.method, allowed);
          set.headers.allow = allowed.join(", ");
        }
      }
      // A storage failure's own text (an SQLiteError, a path) is in its cause: for the log only.
      if (appError.code === "STORAGE_UNAVAILABLE") {
        deps.log("error", "storage unavailable", {
          requestId,
          cause: String(appError.cause ?? appError.message),
        });
      }
      const headers = headersFor(appError);
      if (headers) Object.assign(set.headers, headers);
      set.status = appError.status;
      policy.recordError(request, route, appError.status, requestStartedAt, requestId, clientAddress);
      return toErrorBody(appError);
    })
    .use(orderRoutes(orders, { bodyTimeoutMs: config.bodyTimeoutMs }))
    .use(eventRoutes(deps.events))
    .use(webhookRoutes(deps.webhooks, { bodyTimeoutMs: config.bodyTimeoutMs }))
    .use(systemRoutes(deps.system))
    .use(dashboardRoutes(deps.dashboard));

  host.server = () => app.server;

  return app;
}

/** The app's type, for tests and the server. */
export type App = ReturnType<typeof createApp>;
