/**
 * The OpenAPI document at /swagger/json (generated from the routes, then cleaned by
 * `cleanDocument`) and Swagger UI at /swagger, its script and stylesheet served from the installed
 * swagger-ui-dist package, so the page renders with no network and runs the version in the lockfile.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { cleanDocument, type DocumentOptions } from "./openapi-document.ts";

/** Where swagger-ui-dist is installed: found by module resolution, so /app/node_modules in the image too. */
const SWAGGER_UI_DIR = dirname(fileURLToPath(import.meta.resolve("swagger-ui-dist/package.json")));
const SWAGGER_UI_VERSION: string = JSON.parse(
  readFileSync(join(SWAGGER_UI_DIR, "package.json"), "utf8"),
).version;

/**
 * The assets the page loads, under a path that names the package version, so they can be cached
 * for good: a new version is a new URL.
 */
const ASSET_BASE = `/swagger/assets/${SWAGGER_UI_VERSION}`;
const ASSETS = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
} as const;

/** Serves the Swagger UI assets, each read from disk once, on its first request. */
function swaggerUiAssets() {
  const app = new Elysia({ name: "swagger-ui-assets" });
  for (const [name, contentType] of Object.entries(ASSETS)) {
    const file = Bun.file(join(SWAGGER_UI_DIR, name));
    let bytes: Promise<Uint8Array> | undefined;
    app.get(
      `${ASSET_BASE}/${name}`,
      async () => {
        bytes ??= file.bytes();
        return new Response(await bytes, {
          headers: { "content-type": contentType, "cache-control": "public, max-age=31536000, immutable" },
        });
      },
      { detail: { hide: true } },
    );
  }
  return app;
}

/**
 * The docs plugin: `/swagger` (Swagger UI), `/swagger/json` (the document) and
 * `/swagger/assets/<swagger-ui version>/...`. With `apiKeysOn`, the document declares the API key
 * schemes and requires one on every operation but those under `openPaths` (OpenAPI paths, e.g.
 * "/health").
 */
export function apiDocs(options: DocumentOptions = { apiKeysOn: false }) {
  // The generated document is rewritten by an after-handle hook on this plugin's own routes: it must
  // be registered before `.use(openapi())` to apply to the plugin's routes, and, being local, it
  // never runs for the API's routes. The plugin keeps the same document object while the routes do
  // not change, so the cleaned copy is kept for as long.
  let generated: unknown;
  let cleaned: unknown;
  return new Elysia({ name: "api-docs", seed: options })
    .onAfterHandle(({ route, responseValue }) => {
      if (route !== "/swagger/json") return;
      if (responseValue !== generated) {
        generated = responseValue;
        cleaned = cleanDocument(responseValue, options);
      }
      return cleaned;
    })
    .use(
      openapi({
        path: "/swagger",
        specPath: "/swagger/json",
        provider: "swagger-ui",
        swagger: {
          cdn: `${ASSET_BASE}/swagger-ui-bundle.js`,
          theme: `${ASSET_BASE}/swagger-ui.css`,
          // Never send the document to swagger.io's online validator.
          validatorUrl: "none",
          // Absolute, unlike the plugin's default ("swagger/json"), so the page also works when
          // opened as /swagger/ (which Elysia routes to it too). Not in the plugin's option type.
          ...({ url: "/swagger/json" } as object),
        },
        documentation: {
          info: {
            title: "Order service",
            version: "0.1.0",
            description:
              "Accepts orders, processes them asynchronously on worker threads, and reports status and metrics. " +
              // No double quotes: the plugin puts this text in the page's <meta> tags unescaped.
              "Every error has one envelope: an object `error` with `code`, `message` and, for some codes, `details`.",
          },
          // The default server made explicit: the API is served from the document's own origin.
          servers: [{ url: "/", description: "This service" }],
          tags: [
            { name: "Orders", description: "Submit, read, list and cancel orders" },
            { name: "System", description: "Metrics, liveness and readiness" },
          ],
        },
      }),
    )
    .use(swaggerUiAssets());
}
