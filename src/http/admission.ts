/**
 * The checks of the HTTP policy (policy.ts) before a request reaches its route: the rate limit,
 * CORS preflights and the API key. Which routes need a key and which the rate limit spares is
 * what each route declares (src/kit/route-contract.ts), read through the app's route table.
 */
import type { Config } from "../config.ts";
import { toErrorBody } from "../kit/error-envelope.ts";
import { type AppError, rateLimited, unauthorized } from "../kit/errors.ts";
import { type Access, answersWithoutKey } from "../kit/route-contract.ts";
import { createKeyMatcher, presentedKey } from "./api-keys.ts";
import { preflightHeaders } from "./cors.ts";
import { RateLimiter } from "./rate-limit.ts";

/** What the policy asks of the app it guards. */
export type PolicyHost = {
  /** The route template a method and path would reach, or `unmatched`: for requests refused early. */
  routeOf: (method: string, path: string) => string;
  /** The methods a path answers (a CORS preflight names them). */
  methodsOf: (path: string) => string[];
  /**
   * The access the route a method and path would reach declares (src/kit/route-contract.ts):
   * whether it needs a key, and whether the rate limit applies. `key` for a path no route answers.
   */
  accessOf: (method: string, path: string) => Access;
  /** The listening server, to read a client's address (the rate limit, the access log). */
  server: () => { requestIP(request: Request): { address: string } | null } | null;
};

/** A ready answer in the envelope: an `AppError` with extra headers, its body built once. */
function cannedAnswer(error: AppError, headers: Record<string, string> = {}) {
  const body = JSON.stringify(toErrorBody(error));
  const init = {
    status: error.status,
    headers: { "content-type": "application/json;charset=utf-8", ...headers },
  };
  return () => new Response(body, init);
}

/** Records one answered request (the access log line and the request metrics). */
export type Finish = (
  method: string,
  route: string,
  status: number,
  startedAt: number,
  requestId: string,
  client: string,
  /** The request itself, for its span (tracing on). */
  request?: Request,
) => void;

/** One request as the checks see it; `headers` are the answer's (`set.headers`). */
type Arrival = {
  request: Request;
  /** The path in the URL and the path Elysia routes by (they differ for some Host headers). */
  path: string;
  routedPath: string;
  headers: Record<string, unknown>;
  startedAt: number;
  requestId: string;
  /** The client's address (client-address.ts), resolved once for the rate limit and the access log. */
  client: string;
};

/**
 * The checks before a route, as one function: the rate limit, CORS preflights, the API key. It
 * answers early (a 429, a preflight's 204, a 401) or returns nothing to let the request through.
 */
export function admission(config: Config, host: PolicyHost, finish: Finish) {
  const matchKey = config.apiKeys.length > 0 ? createKeyMatcher(config.apiKeys) : undefined;
  const limiter = config.rateLimitPerS > 0 ? new RateLimiter(config.rateLimitPerS) : undefined;
  const answerUnauthorized = cannedAnswer(unauthorized(), { "www-authenticate": "Bearer" });
  const answerRateLimited = cannedAnswer(rateLimited(config.rateLimitPerS), { "retry-after": "1" });
  const limitText = String(config.rateLimitPerS);

  return function admit({ request, path, routedPath, headers, startedAt, requestId, client }: Arrival) {
    const method = request.method;
    const early = (status: number, answer: () => Response) => {
      finish(method, host.routeOf(method, routedPath), status, startedAt, requestId, client, request);
      return answer();
    };
    // A preflight of a listed origin is answered before the key check (browsers send no key
    // with it), but counts against the rate limit like any request of that client.
    const preflight =
      method === "OPTIONS" &&
      headers["access-control-allow-origin"] !== undefined &&
      request.headers.get("access-control-request-method") !== null;
    // Both paths must say so for a request to pass as a probe or without a key.
    const access = host.accessOf(method, path);
    const routedAccess = routedPath === path ? access : host.accessOf(method, routedPath);
    const probe = access === "probe" && routedAccess === "probe";
    if (probe && !preflight) return;
    const keyIndex = matchKey ? matchKey(presentedKey(request.headers)) : -1;
    if (limiter && !probe) {
      // Keyed by the index of the API key, never the key; without one, by the client's address.
      const verdict = limiter.take(keyIndex >= 0 ? `key:${keyIndex}` : client, Date.now());
      headers["ratelimit-limit"] = limitText;
      headers["ratelimit-remaining"] = String(verdict.remaining);
      headers["ratelimit-reset"] = String(verdict.resetS);
      if (!verdict.allowed) return early(429, answerRateLimited);
    }
    if (preflight) {
      const answer = preflightHeaders(host.methodsOf(routedPath));
      return early(204, () => new Response(null, { status: 204, headers: answer }));
    }
    const open = answersWithoutKey(access, config) && answersWithoutKey(routedAccess, config);
    if (matchKey && keyIndex === -1 && !open) return early(401, answerUnauthorized);
  };
}
