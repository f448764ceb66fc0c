/**
 * Builds the Elysia app from its dependencies. It never listens, so tests can drive it with
 * `app.handle(new Request(...))` or serve it on a port of their choosing.
 */
import { openapi } from "@elysiajs/openapi";
import { Elysia, ParseError, ValidationError } from "elysia";
import { AppError, type FieldProblem, toErrorBody } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { orderRoutes } from "./orders/routes.ts";
import type { OrderDeps } from "./orders/service.ts";
import { type SystemDeps, systemRoutes } from "./system/routes.ts";

/** Everything the HTTP layer needs. */
export type AppDeps = { orders: OrderDeps; system: Omit<SystemDeps, "store">; log: Logger };

/** Turns Elysia's validation error into per-field problems, using our schemas' messages. */
function toFieldProblems(error: ValidationError): FieldProblem[] {
  return error.all.map((issue) => {
    const field = "path" in issue && issue.path ? issue.path.slice(1).replaceAll("/", ".") : error.type;
    const custom = "schema" in issue ? (issue.schema as { error?: unknown }).error : undefined;
    const unexpected = issue.summary?.startsWith("Property '") && issue.message === "Unexpected property";
    const message = unexpected ? "is not a known field" : typeof custom === "string" ? custom : issue.message;
    return { field, message };
  });
}

/** Maps any error to its status and the one envelope. */
function toErrorResponse(
  error: unknown,
  log: Logger,
): { status: number; body: ReturnType<typeof toErrorBody> } {
  const cause = error instanceof ParseError ? error.cause : error;
  if (cause instanceof AppError) {
    return { status: cause.status, body: toErrorBody(cause.code, cause.message, cause.details) };
  }
  if (error instanceof ParseError) {
    return { status: 400, body: toErrorBody("INVALID_JSON", "The request body could not be parsed") };
  }
  if (error instanceof ValidationError) {
    const problems = toFieldProblems(error);
    const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
    return {
      status: 422,
      body: toErrorBody("VALIDATION_FAILED", `Invalid ${error.type}: ${summary}`, problems),
    };
  }
  const requestId = crypto.randomUUID();
  log("error", "unhandled error", { requestId, error: error instanceof Error ? error.stack : String(error) });
  return {
    status: 500,
    body: toErrorBody("INTERNAL_ERROR", "Something went wrong on our side", { request_id: requestId }),
  };
}

/** The whole HTTP API: orders, metrics, health, and the OpenAPI document with Swagger UI. */
export function createApp(deps: AppDeps) {
  return (
    // normalize: false makes unknown fields an error instead of silently dropping them.
    new Elysia({ normalize: false })
      .use(
        openapi({
          path: "/swagger",
          specPath: "/swagger/json",
          provider: "swagger-ui",
          documentation: {
            info: {
              title: "Order service",
              version: "0.1.0",
              description:
                "Accepts orders, processes them asynchronously on worker threads, and reports status and metrics. " +
                'Every error has the envelope {"error":{"code","message","details"?}}.',
            },
            tags: [
              { name: "Orders", description: "Submit, read, list and cancel orders" },
              { name: "System", description: "Metrics, liveness and readiness" },
            ],
          },
        }),
      )
      .onError(({ code, error, set }) => {
        if (code === "NOT_FOUND") {
          set.status = 404;
          return toErrorBody("ROUTE_NOT_FOUND", "No such route; see /swagger for the API");
        }
        const { status, body } = toErrorResponse(error, deps.log);
        set.status = status;
        return body;
      })
      .use(orderRoutes(deps.orders))
      .use(systemRoutes({ ...deps.system, store: deps.orders.store }))
  );
}

/** The app's type, for tests and the server. */
export type App = ReturnType<typeof createApp>;
