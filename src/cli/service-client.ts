/**
 * The operator's commands that act on the queue (retry-failed, redeliver-dead) ask the running
 * service over its HTTP API rather than write to the database: the service owns its queue (on
 * SQLite it is the only writer, and its dispatcher would not see rows another process wrote).
 */
import { type ServiceEndpoint, StartupError } from "../config.ts";

/** An answer of the service: its status and JSON body (null when it was not JSON). */
export type Answer = {
  status: number;
  body: {
    error?: { code: string; message: string };
    next_cursor?: string | null;
    [key: string]: unknown;
  } | null;
  text: string;
};

/** Sends one request to the service; resolves with any answer but a 401. */
export type Request = (method: "GET" | "POST", path: string) => Promise<Answer>;

/** Writes one line for the operator. */
export type Say = (line: string) => void;

/**
 * A `Request` to the service at `endpoint`, API_KEY as a bearer token. An unreachable service
 * throws naming ORDER_SERVICE_URL, a 401 naming API_KEY (StartupError: the setting to fix).
 */
export function serviceClient(endpoint: ServiceEndpoint): Request {
  // Paths resolve under the URL's own path, so a service behind a prefix (https://ops/orders-api/) works.
  const base = new URL(endpoint.url.href.endsWith("/") ? endpoint.url.href : `${endpoint.url.href}/`);
  const headers: Record<string, string> = endpoint.apiKey
    ? { authorization: `Bearer ${endpoint.apiKey}` }
    : {};
  return async (method, path) => {
    let response: Response;
    try {
      response = await fetch(new URL(path.replace(/^\//, ""), base), {
        method,
        headers,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new StartupError(
        "ORDER_SERVICE_URL",
        `no order service answers at ${base.href} (ORDER_SERVICE_URL): ${(error as Error).message}`,
      );
    }
    const text = await response.text();
    let body: Answer["body"] = null;
    try {
      body = JSON.parse(text);
    } catch {}
    if (response.status === 401)
      throw new StartupError(
        "API_KEY",
        `the service at ${base.href} wants an API key: set API_KEY to one of its API_KEYS`,
      );
    return { status: response.status, body, text };
  };
}

/** Throws for an answer other than `expected`, saying what the service answered to `what`. */
export function expectStatus(answer: Answer, expected: number, what: string): void {
  if (answer.status === expected) return;
  const error = answer.body?.error;
  const said = error ? `${error.code}: ${error.message}` : answer.text.slice(0, 200);
  throw new Error(`${what} answered ${answer.status} (${said})`);
}

/**
 * Every item of a paginated listing (`key` holds each page's items, `next_cursor` the next page),
 * page by page: the caller acts on a page before the next is asked for. The cursors are keyset
 * positions, so items the caller moves out of the listing never make it skip or repeat one.
 */
export async function* listAll<T>(request: Request, path: string, key: string): AsyncGenerator<T> {
  let cursor: string | null = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page = await request(
      "GET",
      cursor ? `${path}${separator}cursor=${encodeURIComponent(cursor)}` : path,
    );
    expectStatus(page, 200, `GET ${path}`);
    yield* (page.body?.[key] ?? []) as T[];
    cursor = page.body?.next_cursor ?? null;
  } while (cursor);
}
