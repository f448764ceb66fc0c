/**
 * The one error catalogue: every code a client can see, its HTTP status, and one constructor each.
 * An `AppError` crosses threads as plain data (`toWireError` / `fromWireError`) and comes back as
 * the same `AppError`. The HTTP envelope is built in error-envelope.ts; this file has no Elysia in
 * it, so storage adapters and their threads can throw these errors too.
 */

/** HTTP status of every error code. */
const STATUS = {
  VALIDATION_FAILED: 422,
  TOTAL_MISMATCH: 422,
  INVALID_JSON: 400,
  INVALID_QUERY: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  ORDER_NOT_FOUND: 404,
  ORDER_ID_CONFLICT: 409,
  ORDER_NOT_CANCELLABLE: 409,
  ORDER_NOT_RETRYABLE: 409,
  WEBHOOK_NOT_FOUND: 404,
  DELIVERY_NOT_FOUND: 404,
  WEBHOOK_LIMIT_REACHED: 422,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  UNAUTHORIZED: 401,
  RATE_LIMITED: 429,
  OVERLOADED: 503,
  NOT_READY: 503,
  STORAGE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
} as const;

/** A stable, SCREAMING_SNAKE code a client can act on. */
export type ErrorCode = keyof typeof STATUS;

/** An error a client can act on: the code is stable, the message is for people. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

/** Longest piece of client input an error message repeats; a longer one is cut with "…". */
const MAX_ECHO = 64;

/** Client input as an error message quotes it: cut to MAX_ECHO characters. */
function echo(text: string): string {
  return text.length > MAX_ECHO ? `${text.slice(0, MAX_ECHO)}…` : text;
}

/** A field-level validation problem, as listed in `details` of a VALIDATION_FAILED error. */
export type FieldProblem = { field: string; message: string };

/** 422: what is wrong with which field, every problem at once. */
export function validationFailed(problems: FieldProblem[], part = "request"): AppError {
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  return new AppError("VALIDATION_FAILED", `Invalid ${part}: ${summary}`, problems);
}

/**
 * 422: an order's total_amount is not the sum of its lines and charges; `details` has both, as
 * decimal strings in the currency's digits and in minor units, so a client can see its rounding.
 */
export function totalMismatch(details: {
  currency: string;
  given: string;
  computed: string;
  given_minor: number;
  computed_minor: number;
}): AppError {
  const { currency, given, computed } = details;
  return new AppError(
    "TOTAL_MISMATCH",
    `total_amount ${given} ${currency} is not the order's sum, ${computed} ${currency} ` +
      "(quantity × unit_price over the items, + shipping + tax − discount); send that or leave total_amount out",
    { field: "total_amount", ...details },
  );
}

/** 400: the body is not JSON. */
export function invalidJson(reason?: string): AppError {
  const message = "The request body is not valid JSON";
  return new AppError("INVALID_JSON", reason ? `${message}: ${reason.slice(0, 200)}` : message);
}

/** 415: the body is not sent as application/json. */
export function unsupportedMediaType(contentType: string): AppError {
  const got = contentType ? `'${echo(contentType)}'` : "no content type";
  return new AppError("UNSUPPORTED_MEDIA_TYPE", `Send the body as application/json (got ${got})`);
}

/** 413: the body is over the limit. */
export function payloadTooLarge(limitBytes: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `The request body is larger than ${limitBytes} bytes`);
}

/** 404: no order with this id. */
export function orderNotFound(orderId: string): AppError {
  return new AppError("ORDER_NOT_FOUND", `No order with order_id '${echo(orderId)}'`);
}

/** 409: the order_id exists with another payload. */
export function orderIdConflict(orderId: string): AppError {
  return new AppError(
    "ORDER_ID_CONFLICT",
    `order_id '${echo(orderId)}' already exists with a different payload`,
  );
}

/** 409: only pending orders can be cancelled. */
export function orderNotCancellable(orderId: string, status: string): AppError {
  return new AppError(
    "ORDER_NOT_CANCELLABLE",
    `Order '${echo(orderId)}' is ${status}; only pending orders can be cancelled`,
  );
}

/** 409: only a failed order can be retried by an operator. */
export function orderNotRetryable(orderId: string, status: string): AppError {
  return new AppError(
    "ORDER_NOT_RETRYABLE",
    `Order '${echo(orderId)}' is ${status}; only failed orders can be retried`,
  );
}

/** 404: no webhook subscription with this id. */
export function webhookNotFound(id: string): AppError {
  return new AppError("WEBHOOK_NOT_FOUND", `Webhook '${echo(id)}' not found`);
}

/** 422: the service holds MAX_WEBHOOKS subscriptions already. */
export function webhookLimitReached(max: number): AppError {
  return new AppError(
    "WEBHOOK_LIMIT_REACHED",
    `The service holds ${max} webhook subscriptions, its limit (MAX_WEBHOOKS); delete one first`,
  );
}

/** 404: the subscription has no delivery with this seq. */
export function deliveryNotFound(webhookId: string, seq: string): AppError {
  return new AppError("DELIVERY_NOT_FOUND", `Webhook '${echo(webhookId)}' has no delivery '${echo(seq)}'`);
}

/** 400: the query string cannot be decoded (a bad percent-escape, or bytes that are not UTF-8). */
export function invalidQuery(part: string): AppError {
  return new AppError("INVALID_QUERY", `The query string cannot be decoded near '${echo(part)}'`);
}

/** 405: the path exists, the method does not; `allowed` goes in the Allow header too. */
export function methodNotAllowed(method: string, allowed: string[]): AppError {
  return new AppError(
    "METHOD_NOT_ALLOWED",
    `${echo(method)} is not allowed here; use ${allowed.join(", ")}`,
    {
      allowed,
    },
  );
}

/** 404: no such route. */
export function routeNotFound(): AppError {
  return new AppError("ROUTE_NOT_FOUND", "No such route; see /swagger for the API");
}

/** 401: no API key, or not one of ours. Never names the key that was sent. */
export function unauthorized(): AppError {
  return new AppError(
    "UNAUTHORIZED",
    "Send a valid API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
  );
}

/** 429: this client sent more than its limit; Retry-After says when to come back. */
export function rateLimited(limitPerSecond: number): AppError {
  return new AppError(
    "RATE_LIMITED",
    `Too many requests: at most ${limitPerSecond} per second; retry after the time in Retry-After`,
  );
}

/** 503: the backlog of pending orders is full; nothing was stored. */
export function overloaded(): AppError {
  return new AppError(
    "OVERLOADED",
    "Too many orders are waiting to be processed; nothing was stored. Retry after the time in Retry-After.",
  );
}

/** 503: as many clients wait for events (long-polls, SSE streams) as this process takes. */
export function tooManyWatchers(limit: number): AppError {
  return new AppError(
    "OVERLOADED",
    `${limit} clients are already waiting for order events here; retry after the time in Retry-After.`,
  );
}

/** 408: the request body did not arrive in time. */
export function requestTimeout(timeoutMs: number): AppError {
  return new AppError("REQUEST_TIMEOUT", `The request body did not arrive within ${timeoutMs} ms`);
}

/** 503 from /ready, saying what is not ready. */
export function notReady(problems: string[], details: unknown): AppError {
  return new AppError("NOT_READY", `Not ready: ${problems.join("; ")}`, details);
}

/** 503: the database could not do what was asked; `message` says what the client should do. */
export function storageUnavailable(message: string): AppError {
  return new AppError("STORAGE_UNAVAILABLE", message);
}

/** 500: a bug of ours; the request id ties the answer to the log line. */
export function internalError(requestId: string): AppError {
  return new AppError("INTERNAL_ERROR", "Something went wrong on our side", { request_id: requestId });
}

/** An `AppError` as plain data, for postMessage; `cause` is for the log, never for the client. */
export type WireError = { code: ErrorCode; message: string; details?: unknown; cause?: string };

/** What a client is told when an error we did not foresee crosses a thread. */
const UNFORESEEN = "The database could not do what was asked. Retry the request.";

/**
 * Turns any error into plain data. Anything but an `AppError` becomes `fallback(a generic
 * message)`: its own text (an `SQLiteError: disk I/O error`, a path) travels as `cause`, for the
 * log, and never reaches a client.
 */
export function toWireError(error: unknown, fallback: (text: string) => AppError): WireError {
  if (error instanceof AppError) {
    const cause = error.cause === undefined ? undefined : String(error.cause);
    return { code: error.code, message: error.message, details: error.details, cause };
  }
  const known = fallback(UNFORESEEN);
  return { code: known.code, message: known.message, details: known.details, cause: String(error) };
}

/** The `AppError` that `toWireError` sent, with its `cause` (a string) if it had one. */
export function fromWireError(wire: WireError): AppError {
  const error = new AppError(wire.code, wire.message, wire.details);
  if (wire.cause !== undefined) error.cause = wire.cause;
  return error;
}
