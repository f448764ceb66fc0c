/**
 * The OpenAPI document at /swagger/json (generated from the routes, then cleaned by
 * `cleanDocument`) and Swagger UI at /swagger, its script and stylesheet served from the installed
 * swagger-ui-dist package, so the page renders with no network and runs the version in the lockfile.
 * The page is ours, not the OpenAPI plugin's: the plugin's has an inline script and an inline style,
 * which a Content-Security-Policy without 'unsafe-inline' refuses; ours loads both as files.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { pageSecurityHeaders } from "./http/page-policy.ts";
import { undocumented } from "./kit/route-contract.ts";
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

/**
 * Our own files for the page, as text: the script that starts Swagger UI (what the plugin's page
 * had inline) and its dark-mode rules (what the plugin's page had in a <style>). Without a
 * version in their names, so cached only after asking again.
 */
const OWN_ASSETS = {
  "init.js": {
    type: "text/javascript; charset=utf-8",
    text: `window.ui = SwaggerUIBundle(${JSON.stringify({
      dom_id: "#swagger-ui",
      // Absolute, so the page also works when opened as /swagger/ (which Elysia routes to it too).
      url: "/swagger/json",
      // Never send the document to swagger.io's online validator.
      validatorUrl: "none",
    })});\n`,
  },
  "dark.css": {
    type: "text/css; charset=utf-8",
    text: `@media (prefers-color-scheme: dark) {
  body { background-color: #222; }
  .swagger-ui { filter: invert(92%) hue-rotate(180deg); }
  .swagger-ui .microlight { filter: invert(100%) hue-rotate(180deg); }
}
`,
  },
} as const;

// The page's policy (src/http/page-policy.ts): Swagger UI's bundle (it needs no eval) and our
// init.js; its stylesheet and our dark.css (its React components set styles through the CSSOM);
// the document and the requests "Try it out" sends to this service; its forms (Authorize, Try it
// out) handled by its script. Images: swagger-ui.css draws its icons as data: images.
const PAGE_SECURITY_HEADERS = pageSecurityHeaders("'self' data:");

/** The page: Swagger UI's stylesheet and script, then ours; built once. */
const PAGE_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Order service</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${ASSET_BASE}/swagger-ui.css" />
    <link rel="stylesheet" href="/swagger/assets/dark.css" />
    <script src="${ASSET_BASE}/swagger-ui-bundle.js" defer></script>
    <script src="/swagger/assets/init.js" defer></script>
  </head>
  <body>
    <div id="swagger-ui"></div>
  </body>
</html>
`;

/**
 * Serves the page, our two files, and the Swagger UI assets (each read from disk once, on its first
 * request). Left out of the document, and open as DOCS_PUBLIC says, like every route of `apiDocs`.
 */
function swaggerUiPage() {
  const app = new Elysia({ name: "swagger-ui-page" }).get(
    "/swagger",
    () =>
      new Response(PAGE_HTML, {
        headers: { "content-type": "text/html; charset=utf-8", ...PAGE_SECURITY_HEADERS },
      }),
  );
  for (const [name, { type, text }] of Object.entries(OWN_ASSETS)) {
    app.get(
      `/swagger/assets/${name}`,
      () => new Response(text, { headers: { "content-type": type, "cache-control": "no-cache" } }),
    );
  }
  for (const [name, contentType] of Object.entries(ASSETS)) {
    const file = Bun.file(join(SWAGGER_UI_DIR, name));
    let bytes: Promise<Uint8Array> | undefined;
    app.get(`${ASSET_BASE}/${name}`, async () => {
      bytes ??= file.bytes();
      return new Response(await bytes, {
        headers: { "content-type": contentType, "cache-control": "public, max-age=31536000, immutable" },
      });
    });
  }
  return app;
}

/**
 * The docs plugin: `/swagger` (Swagger UI), `/swagger/json` (the document),
 * `/swagger/assets/<swagger-ui version>/...` and our `/swagger/assets/init.js` and `dark.css`. With
 * `apiKeysOn`, the document declares the API key schemes and requires one on every operation whose
 * declared access needs one (src/kit/route-contract.ts).
 */
export function apiDocs(options: DocumentOptions = { apiKeysOn: false }) {
  // The generated document is rewritten by an after-handle hook on this plugin's own routes: it must
  // be registered before `.use(openapi())` to apply to the plugin's routes, and, being local, it
  // never runs for the API's routes. The plugin keeps the same document object while the routes do
  // not change, so the cleaned copy is kept for as long.
  let generated: unknown;
  let cleaned: unknown;
  // Declared on the plugin, not per route: its routes include the OpenAPI plugin's /swagger/json,
  // whose options are not ours to give (Elysia hands a plugin's `detail` to every route under it).
  return new Elysia({ name: "api-docs", seed: options, detail: undocumented("docs") })
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
        // The page is ours (see the file comment): the plugin serves only the document.
        provider: null,
        documentation: {
          info: {
            title: "Order service",
            version: "0.1.0",
            description:
              "Accepts orders, processes them asynchronously on worker threads, and reports status and metrics; " +
              "every order event can be followed live (Server-Sent Events) or received as signed webhooks. " +
              "Every error has one envelope: an object `error` with `code`, `message` and, for some codes, `details`.",
          },
          // The default server made explicit: the API is served from the document's own origin.
          servers: [{ url: "/", description: "This service" }],
          // Every tag a route uses (each feature's plugin sets its own on its routes), with what it holds.
          tags: [
            { name: "Orders", description: "Submit, read, list, cancel and retry orders; their history" },
            { name: "Events", description: "Order events as they commit, as a Server-Sent Events stream" },
            { name: "Webhooks", description: "Subscriptions to order events (signed POSTs); deliveries" },
            { name: "System", description: "Metrics, liveness, readiness and the dashboard's data" },
          ],
        },
      }),
    )
    .use(swaggerUiPage());
}
