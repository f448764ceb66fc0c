/**
 * The HTTP policy every request goes through before its route: request ids and access logs,
 * security headers and CORS, API keys, rate limits and backpressure. (Skeleton: filled in by the
 * production-readiness work.)
 */
import { Elysia } from "elysia";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";

/** What the policy needs. */
export type HttpPolicyDeps = {
  config: Config;
  log: Logger;
  /** Orders now pending (cached, cheap): the backlog that MAX_PENDING_ORDERS bounds. */
  pendingOrders: () => number;
  /** Told of every answered request, once (the request metrics listen here). */
  onResponse: (info: ResponseInfo) => void;
};

/** One answered request: `route` is the route template (`/orders/:order_id`), never the raw path. */
export type ResponseInfo = {
  method: string;
  route: string;
  status: number;
  durationMs: number;
  requestId: string;
};

/** The policy, as a global Elysia plugin. */
export function httpPolicy(_deps: HttpPolicyDeps) {
  return new Elysia({ name: "http-policy" });
}
