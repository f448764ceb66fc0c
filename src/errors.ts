/**
 * One error model: an `AppError` carries a stable code, an HTTP status and a message, and
 * `toErrorBody` turns it, validation failures and anything unexpected into the one envelope
 * `{"error":{"code","message","details"?}}`.
 */
import { t } from "elysia";

/** An error a client can act on: the code is stable, the message is for people. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The envelope of every error response. */
export const ErrorBody = t.Object(
  {
    error: t.Object({
      code: t.String({ description: "Stable, SCREAMING_SNAKE machine-readable code" }),
      message: t.String({ description: "What went wrong, for people" }),
      details: t.Optional(t.Unknown({ description: "Per-field problems or other context" })),
    }),
  },
  { examples: [{ error: { code: "ORDER_NOT_FOUND", message: "No order with order_id 'order_456'" } }] },
);
export type ErrorBody = typeof ErrorBody.static;

/** Builds the envelope for a code, message and optional details. */
export function toErrorBody(code: string, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

/** A field-level validation problem, as listed in `details` of a VALIDATION_FAILED error. */
export type FieldProblem = { field: string; message: string };

/** A 422 listing what is wrong with which field. */
export function validationError(problems: FieldProblem[]): AppError {
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  return new AppError(422, "VALIDATION_FAILED", `Invalid request: ${summary}`, problems);
}
