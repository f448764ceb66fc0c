/**
 * The error side of the OpenAPI document: the envelope of each error status an operation declares,
 * with its codes, typed `details` and an example of each error (the routes declare their errors,
 * built by the error catalogue's own constructors: src/kit/route-contract.ts).
 */
import { toErrorBody } from "./kit/error-envelope.ts";
import type { ErrorCode } from "./kit/errors.ts";
import type { ErrorExample } from "./kit/route-contract.ts";
import { refTo } from "./openapi-components.ts";

type Node = Record<string, unknown>;

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
  TOTAL_MISMATCH: {
    type: "object",
    required: ["field", "currency", "given", "computed", "given_minor", "computed_minor"],
    properties: {
      field: { type: "string", enum: ["total_amount"] },
      currency: { type: "string", description: "ISO 4217 code" },
      given: { type: "string", description: "total_amount as sent, in the currency's digits" },
      computed: { type: "string", description: "Σ quantity × unit_price + shipping + tax − discount" },
      given_minor: { type: "integer" },
      computed_minor: { type: "integer" },
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
export function errorResponse(errors: readonly ErrorExample[]): Node {
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
