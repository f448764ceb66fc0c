/**
 * What each route declares once, where it is defined: the errors it answers and who may call it.
 * The errors are examples built by the error catalogue's own constructors, so the code, status and
 * message the document shows are the ones the service sends; the route's response map gets an
 * `ErrorBody` per error status from them. Both travel in the route's `detail`, which Elysia keeps
 * on the route (`app.routes[i].hooks.detail`) and @elysiajs/openapi copies into the operation: the
 * OpenAPI document (openapi-document.ts) and the HTTP policy (http/policy.ts, through the app's
 * route table) read them there, so neither keeps a list of paths of its own.
 */
import type { DocumentDecoration } from "elysia";
import { ErrorBody } from "./error-envelope.ts";
import { type AppError, type ErrorCode, storageUnavailable } from "./errors.ts";

/**
 * Who may call a route. `key`: an API key when keys are on (the default). `probe`: never a key,
 * never rate-limited (/health, /ready: an orchestrator must always reach them). `public`: never a
 * key (pages and their assets, which hold no data). The others follow a switch of the
 * configuration: `metrics` METRICS_PUBLIC, `dashboard` DASHBOARD_PUBLIC, `docs` DOCS_PUBLIC.
 */
export type Access = "key" | "probe" | "public" | "metrics" | "dashboard" | "docs";

/** The switches of the named accesses, as the configuration names them. */
export type PublicSwitches = { metricsPublic: boolean; dashboardPublic: boolean; docsPublic: boolean };

/** Whether a route of `access` answers without an API key when keys are on. */
export function answersWithoutKey(access: Access, switches: PublicSwitches): boolean {
  switch (access) {
    case "probe":
    case "public":
      return true;
    case "metrics":
      return switches.metricsPublic;
    case "dashboard":
      return switches.dashboardPublic;
    case "docs":
      return switches.docsPublic;
    default:
      return false;
  }
}

/**
 * The example of STORAGE_UNAVAILABLE that every route that writes declares: what the SQLite writer
 * answers once its thread is gone.
 */
export const WRITER_DOWN = storageUnavailable("The database writer is not running; nothing was saved.");

/** An error as a route declares it: plain data, since the document is copied as JSON. */
export type ErrorExample = { status: number; code: ErrorCode; message: string; details?: unknown };

// Extension keys of `detail`: the document reads and then removes them (they are ours, not its readers').
const ERRORS_KEY = "x-errors";
const ACCESS_KEY = "x-access";

/** What a route spreads into its options. */
export type Contract<Response> = { response: Response; detail: DocumentDecoration };

/**
 * The options of a documented route: `response` (its answers other than errors) with an
 * `ErrorBody` for each status of `errors`, and `detail` with both declarations.
 */
export function contract<Response extends Record<number, unknown>>(spec: {
  access?: Access;
  errors?: readonly AppError[];
  response: Response;
  detail: DocumentDecoration;
}): Contract<Response> {
  const errors = spec.errors ?? [];
  const examples: ErrorExample[] = errors.map(({ status, code, message, details }) =>
    details === undefined ? { status, code, message } : { status, code, message, details },
  );
  return {
    // The error entries are for Elysia and the document; handlers throw errors, never return them.
    response: { ...spec.response, ...Object.fromEntries(errors.map((error) => [error.status, ErrorBody])) },
    detail: {
      ...spec.detail,
      [ERRORS_KEY]: examples,
      [ACCESS_KEY]: spec.access ?? "key",
    } as DocumentDecoration,
  };
}

/** The `detail` of a route left out of the document (a page, an asset), or of a plugin's routes. */
export function undocumented(access: Access): DocumentDecoration {
  return { hide: true, [ACCESS_KEY]: access } as DocumentDecoration;
}

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The access a route's `detail` (or an operation) declares; a route that declares none needs a key. */
export function declaredAccess(detail: unknown): Access {
  return isNode(detail) && typeof detail[ACCESS_KEY] === "string" ? (detail[ACCESS_KEY] as Access) : "key";
}

/**
 * Reads and removes an operation's declarations: its errors, and its access if it has one (an
 * operation of a document already cleaned has neither).
 */
export function takeDeclarations(operation: Node): { errors: ErrorExample[]; access: Access | undefined } {
  const errors = Array.isArray(operation[ERRORS_KEY]) ? (operation[ERRORS_KEY] as ErrorExample[]) : [];
  const access = ACCESS_KEY in operation ? declaredAccess(operation) : undefined;
  delete operation[ERRORS_KEY];
  delete operation[ACCESS_KEY];
  return { errors, access };
}
