/**
 * `/dashboard`: one page served by the service itself, no build step, working offline. The page and
 * its scripts (native ES modules) and stylesheets are files in ./page; the chart library is the
 * installed uPlot package (pinned in the lockfile), served from node_modules under a path naming its
 * version, so it can be cached for good. The page polls `/dashboard/data` once a second (see
 * page/dashboard.js for why). The page and assets hold no data and answer without a key (a browser
 * loads them without one, and the page asks for one when `/dashboard/data` needs it); the data
 * follows DASHBOARD_PUBLIC.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Elysia, t } from "elysia";
import { pageSecurityHeaders } from "../http/page-policy.ts";
import { routeNotFound } from "../kit/errors.ts";
import { contract, undocumented } from "../kit/route-contract.ts";
import { DashboardDataView } from "./model.ts";
import type { Dashboard } from "./service.ts";

const PAGE_DIR = join(import.meta.dir, "page");
const UPLOT_DIR = dirname(fileURLToPath(import.meta.resolve("uplot/package.json")));
const UPLOT_VERSION: string = JSON.parse(readFileSync(join(UPLOT_DIR, "package.json"), "utf8")).version;

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const TYPES: Record<string, string> = { ".js": JS, ".css": CSS };

/**
 * The assets by URL name: where each is and its content type. Every .js and .css file in ./page,
 * listed once at start-up, plus uPlot's two files. A request's name is only ever looked up here,
 * never joined into a path, so no name can reach a file outside this list.
 */
const ASSETS = new Map<string, { path: string; type: string }>([
  ...readdirSync(PAGE_DIR, { withFileTypes: true }).flatMap((entry) => {
    const type = TYPES[extname(entry.name)];
    return entry.isFile() && type ? [[entry.name, { path: join(PAGE_DIR, entry.name), type }] as const] : [];
  }),
  [`uplot-${UPLOT_VERSION}.js`, { path: join(UPLOT_DIR, "dist/uPlot.iife.min.js"), type: JS }],
  [`uplot-${UPLOT_VERSION}.css`, { path: join(UPLOT_DIR, "dist/uPlot.min.css"), type: CSS }],
]);

// The page's policy (src/http/page-policy.ts): its module scripts and uPlot's, its stylesheets, the
// data it polls and the retries it posts; as images only its empty icon, `data:,`, which stops the
// browser asking for /favicon.ico.
const PAGE_SECURITY_HEADERS = pageSecurityHeaders("data:");

/** The page, with the uPlot asset names filled in; read once. */
let page: string | undefined;
function pageHtml(): string {
  page ??= readFileSync(join(PAGE_DIR, "dashboard.html"), "utf8").replaceAll(
    "{{UPLOT_VERSION}}",
    UPLOT_VERSION,
  );
  return page;
}

/** The dashboard routes. */
export function dashboardRoutes(dashboard: Dashboard) {
  const bytes = new Map<string, Promise<Uint8Array>>();
  return new Elysia({ name: "dashboard", prefix: "/dashboard", detail: { tags: ["System"] } })
    .get(
      "",
      () =>
        new Response(pageHtml(), {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "cache-control": "no-store",
            ...PAGE_SECURITY_HEADERS,
          },
        }),
      { detail: undocumented("public") },
    )
    .get(
      "/assets/:name",
      async ({ params }) => {
        const asset = ASSETS.get(params.name);
        if (!asset) throw routeNotFound();
        let content = bytes.get(params.name);
        if (!content) {
          content = Bun.file(asset.path).bytes();
          bytes.set(params.name, content);
          // A failed read is not kept: the next request reads the file again.
          content.catch(() => bytes.delete(params.name));
        }
        // Our own files may change with a deploy under the same name; uPlot's name has its version.
        const cache = params.name.startsWith("uplot-") ? "public, max-age=31536000, immutable" : "no-cache";
        return new Response(await content, {
          headers: { "content-type": asset.type, "cache-control": cache },
        });
      },
      { params: t.Object({ name: t.String() }), detail: undocumented("public") },
    )
    .get(
      "/data",
      () => dashboard.data(),
      contract({
        access: "dashboard",
        response: { 200: DashboardDataView },
        detail: {
          operationId: "dashboardData",
          summary: "What the dashboard shows: the whole system, recomputed at most once a second",
        },
      }),
    );
}
