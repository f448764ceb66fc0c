/**
 * The error side of the OpenAPI document: which errors each operation answers, with an example of
 * each built by the error catalogue's own constructors (so code, status and message are the ones
 * the service sends), and the envelope of each status with its codes and typed `details`.
 */
import { toErrorBody } from "./kit/error-envelope.ts";
import {
  type AppError,
  deliveryNotFound,
  type ErrorCode,
  invalidJson,
  invalidQuery,
  notReady,
  orderIdConflict,
  orderNotCancellable,
  orderNotFound,
  orderNotRetryable,
  overloaded,
  payloadTooLarge,
  requestTimeout,
  storageUnavailable,
  tooManyWatchers,
  unsupportedMediaType,
  validationFailed,
  webhookLimitReached,
  webhookNotFound,
} from "./kit/errors.ts";
import { BODY_TIMEOUT_MS, MAX_BODY_BYTES } from "./kit/json-body.ts";
import { refTo } from "./openapi-components.ts";
import { MAX_PAGE } from "./orders/model.ts";
import { MONEY_RULE } from "./orders/money.ts";
import { MAX_DELIVERY_PAGE, MAX_WEBHOOK_PAGE } from "./webhooks/model.ts";

type Node = Record<string, unknown>;

const ORDER_ID = "order_456";
const WEBHOOK_ID = "3f6b0c1e-2d4a-4c8e-9a57-1b2c3d4e5f60";
const WRITER_DOWN = "The database writer is not running; nothing was saved.";

/**
 * Every error each operation answers, by "METHOD /openapi/path". test/swagger.test.ts checks that
 * these are exactly the error statuses each route declares, and provokes them to check the examples
 * are what the service answers. Errors of the HTTP policy that depend on configuration (401 with
 * API keys, 429 with a rate limit) are added by `cleanDocument`.
 */
export const OPERATION_ERRORS: Record<string, AppError[]> = {
  "POST /orders": [
    invalidJson("JSON Parse error: Expected '}'"),
    requestTimeout(BODY_TIMEOUT_MS),
    orderIdConflict(ORDER_ID),
    payloadTooLarge(MAX_BODY_BYTES),
    unsupportedMediaType("text/plain"),
    validationFailed([{ field: "total_amount", message: MONEY_RULE }], "body"),
    overloaded(),
    storageUnavailable(WRITER_DOWN),
  ],
  "GET /orders": [
    invalidQuery("user_id=%FF"),
    validationFailed([{ field: "limit", message: `must be a whole number from 1 to ${MAX_PAGE}` }], "query"),
  ],
  "GET /orders/{order_id}": [orderNotFound(ORDER_ID)],
  "GET /orders/{order_id}/status": [
    orderNotFound(ORDER_ID),
    tooManyWatchers(10_000),
    invalidQuery("wait_for=%FF"),
    validationFailed(
      [
        {
          field: "wait_for",
          message: "must be a comma-separated list of pending, processing, completed, failed, cancelled",
        },
      ],
      "query",
    ),
  ],
  "GET /orders/{order_id}/events": [orderNotFound(ORDER_ID)],
  "GET /events": [
    invalidQuery("user_id=%FF"),
    validationFailed([{ field: "last_event_id", message: "must be the seq of an event" }], "request"),
    tooManyWatchers(10_000),
  ],
  "POST /orders/{order_id}/retry": [
    orderNotFound(ORDER_ID),
    orderNotRetryable(ORDER_ID, "completed"),
    storageUnavailable(WRITER_DOWN),
  ],
  "POST /orders/{order_id}/cancel": [
    orderNotFound(ORDER_ID),
    orderNotCancellable(ORDER_ID, "completed"),
    storageUnavailable(WRITER_DOWN),
  ],
  "POST /webhooks": [
    invalidJson("JSON Parse error: Expected '}'"),
    requestTimeout(BODY_TIMEOUT_MS),
    payloadTooLarge(MAX_BODY_BYTES),
    unsupportedMediaType("text/plain"),
    validationFailed(
      [
        {
          field: "url",
          message: "the host 127.0.0.1 is a loopback address; list it in WEBHOOK_ALLOWED_HOSTS to allow it",
        },
      ],
      "body",
    ),
    webhookLimitReached(100),
    storageUnavailable(WRITER_DOWN),
  ],
  "GET /webhooks": [
    invalidQuery("cursor=%FF"),
    validationFailed(
      [{ field: "limit", message: `must be a whole number from 1 to ${MAX_WEBHOOK_PAGE}` }],
      "query",
    ),
  ],
  "DELETE /webhooks/{id}": [webhookNotFound(WEBHOOK_ID), storageUnavailable(WRITER_DOWN)],
  "GET /webhooks/{id}/deliveries": [
    invalidQuery("cursor=%FF"),
    webhookNotFound(WEBHOOK_ID),
    validationFailed(
      [{ field: "limit", message: `must be a whole number from 1 to ${MAX_DELIVERY_PAGE}` }],
      "query",
    ),
  ],
  "POST /webhooks/{id}/deliveries/{seq}/redeliver": [
    webhookNotFound(WEBHOOK_ID),
    deliveryNotFound(WEBHOOK_ID, "42"),
    storageUnavailable(WRITER_DOWN),
  ],
  "GET /metrics": [
    invalidQuery("format=%FF"),
    validationFailed([{ field: "format", message: "must be json or prometheus" }], "query"),
  ],
  "GET /ready": [
    notReady(["1 of 4 worker threads are up"], { database: "writable", workers: { ready: 1, expected: 4 } }),
  ],
};

/** The shape of `details` for each code that carries them; the other codes have none. */
const DETAILS: Partial<Record<ErrorCode, Node>> = {
  VALIDATION_FAILED: {
    type: "array",
    description: "Every problem at once, one per field and rule",
    minItems: 1,
    items: {
      type: "object",
      required: ["field", "message"],
      properties: {
        field: { type: "string", description: "Dotted path of the field (item_ids.0)" },
        message: { type: "string" },
      },
    },
  },
  METHOD_NOT_ALLOWED: {
    type: "object",
    required: ["allowed"],
    properties: { allowed: { type: "array", items: { type: "string" } } },
  },
  NOT_READY: {
    type: "object",
    required: ["database", "workers"],
    properties: {
      database: { type: "string", description: '"writable", or why not' },
      workers: {
        type: "object",
        required: ["ready", "expected"],
        properties: { ready: { type: "integer" }, expected: { type: "integer" } },
      },
    },
  },
  INTERNAL_ERROR: {
    type: "object",
    required: ["request_id"],
    properties: { request_id: { type: "string", description: "Names the server's log line" } },
  },
};

/** Headers some errors add to their answer (app.ts and http/policy.ts set them). */
const HEADERS: Partial<Record<ErrorCode, Node>> = {
  OVERLOADED: { "Retry-After": { description: "Seconds to wait (OVERLOADED)", schema: { type: "integer" } } },
  RATE_LIMITED: { "Retry-After": { description: "Seconds to wait", schema: { type: "integer" } } },
  UNAUTHORIZED: {
    "WWW-Authenticate": { description: "The scheme to use: Bearer", schema: { type: "string" } },
  },
};

/** The error envelope of one status: its codes only, `details` typed after them. */
function errorSchema(codes: ErrorCode[]): Node {
  const details = [...new Set(codes.map((code) => DETAILS[code]).filter((schema) => schema !== undefined))];
  const always = details.length > 0 && codes.every((code) => DETAILS[code]);
  return {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message", ...(always ? ["details"] : [])],
        properties: {
          code: { type: "string", enum: codes, description: "Stable, machine-readable" },
          message: { type: "string", description: "What went wrong, for people" },
          ...(details.length === 0
            ? {}
            : { details: details.length === 1 ? details[0] : { anyOf: details } }),
        },
      },
    },
  };
}

/** The response of one error status: its envelope, headers, and an example of every error it carries. */
export function errorResponse(errors: AppError[]): Node {
  const codes = [...new Set(errors.map((error) => error.code))];
  const headers = Object.assign({}, ...codes.map((code) => HEADERS[code] ?? {}));
  return {
    description: codes.join(" or "),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: {
      "application/json": {
        // The envelope (components.schemas.Error), narrowed to this status's codes and details.
        schema: { allOf: [refTo("Error"), errorSchema(codes)] },
        examples: Object.fromEntries(
          errors.map((error) => [error.code, { summary: error.message, value: toErrorBody(error) }]),
        ),
      },
    },
  };
}
