/**
 * Strict JSON body parsing for routes that take a body: JSON only (415 otherwise), at most
 * MAX_BODY_BYTES (413), UTF-8 (400: invalid bytes are refused, never silently replaced), well-formed
 * (400), nested at most MAX_DEPTH deep (422), arrived in full within its deadline (408). Errors are
 * `AppError`s, so they get the one envelope.
 */
import {
  type AppError,
  invalidJson,
  payloadTooLarge,
  requestTimeout,
  unsupportedMediaType,
  validationFailed,
} from "./errors.ts";

/** Largest accepted request body: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Deepest accepted nesting of arrays and objects. Our bodies need 2; the limit keeps recursive code
 * downstream (validation, its error messages) from overflowing the stack on a hostile body: an
 * array nested 5,000 deep once made the validator's error formatting crash with a 500.
 */
export const MAX_DEPTH = 16;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Reads at most `limit` bytes of a body whose length is not declared (chunked). */
async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw payloadTooLarge(MAX_BODY_BYTES);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Whether arrays and objects nest in `value` deeper than `levels`. Recursive, but never deeper
 * than `levels`: a hostile depth costs nothing more. (An iterative walk with its own stack,
 * allocating per node, cost a tenth of the main thread's work for a POST; figures:
 * docs/PERFORMANCE.md.)
 */
function nestsDeeper(value: unknown, levels: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (levels === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsDeeper(item, levels - 1)) return true;
    return false;
  }
  for (const key in value) if (nestsDeeper((value as Record<string, unknown>)[key], levels - 1)) return true;
  return false;
}

/** Refuses a body nested deeper than MAX_DEPTH, naming the top-level field that is. */
function checkDepth(body: unknown): void {
  if (!nestsDeeper(body, MAX_DEPTH)) return;
  const problems = Object.entries(body as object)
    .filter(([, value]) => nestsDeeper(value, MAX_DEPTH - 1))
    .map(([field]) => ({ field, message: `is nested deeper than ${MAX_DEPTH} levels` }));
  throw validationFailed(problems, "body");
}

/** Default time a body has to arrive in full (BODY_TIMEOUT_MS). */
export const BODY_TIMEOUT_MS = 10_000;

/** A body read in progress: when it must be done, and how to give up on it. */
type Deadline = { at: number; fail: (error: AppError) => void; timeoutMs: number };

// One sweeper for every read in progress instead of a timer each: a Set add and delete cost less
// than arming and clearing a timeout per request, and most bodies are complete on arrival.
const reading = new Set<Deadline>();
let sweeper: ReturnType<typeof setInterval> | undefined;
const SWEEP_MS = 100;

function sweep(): void {
  const now = Date.now();
  for (const deadline of reading) {
    if (now < deadline.at) continue;
    reading.delete(deadline);
    deadline.fail(requestTimeout(deadline.timeoutMs));
  }
  if (reading.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/**
 * `read`, or a 408 once `timeoutMs` has passed (give or take SWEEP_MS): a client trickling its body
 * cannot hold a request, and its connection, for longer. The answer says `Connection: close`.
 */
async function withinDeadline<T>(read: Promise<T>, timeoutMs: number): Promise<T> {
  let deadline: Deadline | undefined;
  const expired = new Promise<never>((_, reject) => {
    deadline = { at: Date.now() + timeoutMs, fail: reject, timeoutMs };
  });
  const entry = deadline as Deadline;
  reading.add(entry);
  sweeper ??= setInterval(sweep, SWEEP_MS).unref();
  try {
    return await Promise.race([read, expired]);
  } finally {
    reading.delete(entry);
  }
}

/** Parses the request body as JSON under the rules above; the body must arrive within `timeoutMs`. */
export async function parseJsonBody(request: Request, timeoutMs = BODY_TIMEOUT_MS): Promise<unknown> {
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";", 1)[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") throw unsupportedMediaType(contentType);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) throw payloadTooLarge(MAX_BODY_BYTES);
  const bytes = await withinDeadline(
    declared !== null
      ? request.arrayBuffer().then((buffer) => new Uint8Array(buffer))
      : readLimited(request, MAX_BODY_BYTES),
    timeoutMs,
  );
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalidJson("the body is not valid UTF-8");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw invalidJson((error as Error).message);
  }
  checkDepth(body);
  return body;
}

/**
 * What `parseJsonBody` answers, as examples: the errors a route that takes a JSON body declares
 * (src/kit/route-contract.ts) beside its own.
 */
export const JSON_BODY_ERRORS: readonly AppError[] = [
  invalidJson("JSON Parse error: Expected '}'"),
  requestTimeout(BODY_TIMEOUT_MS),
  payloadTooLarge(MAX_BODY_BYTES),
  unsupportedMediaType("text/plain"),
];
