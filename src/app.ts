/**
 * Builds the Elysia app from its dependencies. It never listens, so tests can drive it with
 * `app.handle(new Request(...))` or serve it on a port of their choosing.
 */
import { Elysia } from "elysia";
import { apiDocs } from "./docs.ts";
import { toAppError, toErrorBody } from "./error-envelope.ts";
import { methodNotAllowed, routeNotFound } from "./errors.ts";
import { type HttpPolicyDeps, httpPolicy } from "./http/policy.ts";
import type { Logger } from "./logger.ts";
import { orderRoutes } from "./orders/routes.ts";
import type { OrderDeps } from "./orders/service.ts";
import { type SystemDeps, systemRoutes } from "./system/routes.ts";

/** Everything the HTTP layer needs: the features' dependencies (their ports among them). */
export type AppDeps = {
  orders: OrderDeps;
  system: SystemDeps;
  http: HttpPolicyDeps;
  log: Logger;
};

/** The whole HTTP API: orders, metrics, health, and the OpenAPI document with Swagger UI. */
export function createApp(deps: AppDeps) {
  const app = new Elysia({ normalize: false }) // normalize: false: unknown fields are an error, not dropped
    .use(apiDocs())
    .use(httpPolicy(deps.http))
    .onError(({ code, error, set, request }) => {
      let appError = code === "NOT_FOUND" ? routeNotFound() : toAppError(error, deps.log);
      if (code === "NOT_FOUND") {
        const allowed = allowedMethods(new URL(request.url).pathname);
        if (allowed.length > 0) {
          appError = methodNotAllowed(request.method, allowed);
          set.headers.allow = allowed.join(", ");
        }
      }
      set.status = appError.status;
      return toErrorBody(appError);
    })
    .use(orderRoutes(deps.orders))
    .use(systemRoutes(deps.system));

  // The methods each route path answers, matched by pattern (`:param` is one path segment).
  let routes: { pattern: RegExp; method: string }[] | undefined;
  function allowedMethods(path: string): string[] {
    routes ??= app.routes
      .filter((route) => !route.path.includes("*"))
      .map((route) => ({
        method: route.method,
        pattern: new RegExp(
          `^${route.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+")}/?$`,
        ),
      }));
    const methods = routes.filter((route) => route.pattern.test(path)).map((route) => route.method);
    return [...new Set(methods)].sort();
  }

  return app;
}

/** The app's type, for tests and the server. */
export type App = ReturnType<typeof createApp>;
