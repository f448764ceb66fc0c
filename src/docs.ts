/**
 * The OpenAPI document, generated from the routes, and Swagger UI at /swagger.
 */
import { openapi } from "@elysiajs/openapi";

/** The docs plugin: `/swagger` (Swagger UI) and `/swagger/json` (the document). */
export function apiDocs() {
  return openapi({
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
  });
}
