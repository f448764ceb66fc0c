/**
 * The app's routes as the HTTP policy needs them before Elysia routes a request: the route a method
 * and path would reach, the methods a path answers, and the access that route declares
 * (src/kit/route-contract.ts). Read from `app.routes`, where each route has its method, its
 * template and its hooks (`detail` among them), once every route is registered.
 */
import { type Access, declaredAccess } from "../kit/route-contract.ts";

/** What the table reads of a route of `app.routes`. */
export type RouteRecord = { method: string; path: string; hooks?: { detail?: unknown } | null };

type Entry = { method: string; path: string; pattern: RegExp; access: Access };

/** A path without its one trailing slash: Elysia routes `/health/` to `/health`. */
export const trimSlash = (path: string) => (path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path);

/** The table of `routes()`, built on first use: the app adds its routes after the policy exists. */
export function routeTable(routes: () => readonly RouteRecord[]) {
  // Templates without parameters by path (looked up at once), the others tried in order.
  let fixed: Map<string, Entry[]> | undefined;
  let templated: Entry[] = [];
  function build(): Map<string, Entry[]> {
    const entries = routes()
      .filter((route) => !route.path.includes("*"))
      .map((route) => ({
        method: route.method,
        path: route.path,
        // `:param` is one path segment.
        pattern: new RegExp(
          `^${route.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+")}/?$`,
        ),
        access: declaredAccess(route.hooks?.detail),
      }));
    templated = entries.filter((entry) => entry.path.includes(":"));
    const byPath = new Map<string, Entry[]>();
    for (const entry of entries.filter((entry) => !entry.path.includes(":"))) {
      const path = trimSlash(entry.path);
      byPath.set(path, [...(byPath.get(path) ?? []), entry]);
    }
    return byPath;
  }
  /** The routes whose template matches `path`, whatever their method. */
  function matching(path: string): Entry[] {
    fixed ??= build();
    const found = fixed.get(trimSlash(path)) ?? [];
    const more = templated.filter((entry) => entry.pattern.test(path));
    return more.length === 0 ? found : [...found, ...more];
  }
  /** The route of `method` at `path`: a template without parameters first, looked up at once. */
  function find(method: string, path: string): Entry | undefined {
    fixed ??= build();
    const fast = fixed.get(trimSlash(path))?.find((entry) => entry.method === method);
    return fast ?? templated.find((entry) => entry.method === method && entry.pattern.test(path));
  }

  return {
    /** The methods a path answers. */
    methodsOf(path: string): string[] {
      return [...new Set(matching(path).map((entry) => entry.method))].sort();
    },
    /** The template of the route a request would reach, for requests refused before routing. */
    routeOf(method: string, path: string): string {
      return find(method, path)?.path ?? "unmatched";
    },
    /**
     * The access of the route a request would reach. A method the path does not answer (a HEAD, a
     * preflight, a 405) gets its path's access when all its routes agree; a path no route answers
     * needs a key.
     */
    accessOf(method: string, path: string): Access {
      const route = find(method, path);
      if (route) return route.access;
      const entries = matching(path);
      const first = entries[0]?.access ?? "key";
      return entries.every((entry) => entry.access === first) ? first : "key";
    },
  };
}
