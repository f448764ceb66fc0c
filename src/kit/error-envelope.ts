/**
 * The one HTTP error envelope, `{"error":{"code","message","details"?}}`, and the mapping of every
 * error the app can meet (ours, Elysia's parse and validation errors, anything unexpected) to it.
 */
import { ParseError, t, ValidationError } from "elysia";
import { AppError, type FieldProblem, internalError, invalidJson, validationFailed } from "./errors.ts";
import type { Logger } from "./logger.ts";

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

/** Builds the envelope of an `AppError`. */
export function toErrorBody(error: Pick<AppError, "code" | "message" | "details">): ErrorBody {
  const { code, message, details } = error;
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

type Issue = { path?: string; message: string; summary?: string; schema?: unknown };

/** Problems of a value that its schema cannot state: rules across fields. */
export type CrossCheck = (value: unknown) => FieldProblem[];
const crossChecks = new WeakMap<object, CrossCheck>();

/**
 * A copy of `schema` whose validation errors also list what `check` finds in the same value, so a
 * body with several problems hears of all of them at once, those across fields included (an
 * amount's digits depend on the body's currency). `check` sees the value as sent: it must judge
 * only the fields whose type is right (the schema reports the others) and never throw.
 */
export function withCrossCheck<S extends object>(schema: S, check: CrossCheck): S {
  const copy = { ...schema };
  crossChecks.set(copy, check);
  return copy;
}

/**
 * The issues of a validation error. Elysia's `all` builds a summary that prints the value, which
 * throws for an object with a non-callable `toString` (`{"user_id":{"toString":0}}` was a 500):
 * then the validator's own issues, which never print values.
 */
function issuesOf(error: ValidationError): Issue[] {
  try {
    return error.all as Issue[];
  } catch {
    const validator = error.validator as { Errors?: (value: unknown) => Iterable<Issue> } | undefined;
    return [...(validator?.Errors?.(error.value) ?? [])];
  }
}

/** Turns Elysia's validation error into per-field problems, using our schemas' messages, each once. */
function toFieldProblems(error: ValidationError): FieldProblem[] {
  const problems = new Map<string, FieldProblem>();
  for (const issue of issuesOf(error)) {
    const field = issue.path ? issue.path.slice(1).replaceAll("/", ".") : error.type;
    const custom = (issue.schema as { error?: unknown } | undefined)?.error;
    const unexpected = issue.summary?.startsWith("Property '") && issue.message === "Unexpected property";
    const message = unexpected ? "is not a known field" : typeof custom === "string" ? custom : issue.message;
    problems.set(`${field}\n${message}`, { field, message });
  }
  const schema = (error.validator as { schema?: object } | undefined)?.schema;
  const check = schema && crossChecks.get(schema);
  if (check) {
    const reported = new Set([...problems.values()].map((problem) => problem.field));
    for (const problem of check(error.value)) {
      if (!reported.has(problem.field)) problems.set(`${problem.field}\n${problem.message}`, problem);
    }
  }
  return [...problems.values()];
}

/**
 * The `AppError` to answer for any error. An unexpected one is logged (stack and all) with the
 * request's id and becomes a 500 that names the id and nothing else: no stack, SQL or path reaches
 * a client. Without a request (an error that escaped Elysia) a new id stands in.
 */
export function toAppError(error: unknown, log: Logger, requestId: string = crypto.randomUUID()): AppError {
  const cause = error instanceof ParseError ? error.cause : error;
  if (cause instanceof AppError) return cause;
  if (error instanceof ParseError) return invalidJson();
  if (error instanceof ValidationError) return validationFailed(toFieldProblems(error), error.type);
  log("error", "unhandled error", { requestId, error: error instanceof Error ? error.stack : String(error) });
  return internalError(requestId);
}
