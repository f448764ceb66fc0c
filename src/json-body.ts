/**
 * Strict JSON body parsing for routes that take a body: JSON only (415 otherwise), at most
 * MAX_BODY_BYTES (413), UTF-8 (400: invalid bytes are refused, never silently replaced), well-formed
 * (400), nested at most MAX_DEPTH deep (422). Errors are `AppError`s, so they get the one envelope.
 */
import { invalidJson, payloadTooLarge, unsupportedMediaType, validationFailed } from "./errors.ts";

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

/** How deep arrays and objects nest in `value`, counted without recursion, up to `limit` + 1. */
function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== "object") continue;
    if (depth + 1 > limit) return depth + 1;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Refuses a body nested deeper than MAX_DEPTH, naming the top-level field that is. */
function checkDepth(body: unknown): void {
  if (body === null || typeof body !== "object") return;
  const problems = Object.entries(body)
    .filter(([, value]) => depthOf(value, MAX_DEPTH - 1) > MAX_DEPTH - 1)
    .map(([field]) => ({ field, message: `is nested deeper than ${MAX_DEPTH} levels` }));
  if (problems.length > 0) throw validationFailed(problems, "body");
}

/** Parses the request body as JSON under the rules above. */
export async function parseJsonBody(request: Request): Promise<unknown> {
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";", 1)[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") throw unsupportedMediaType(contentType);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) throw payloadTooLarge(MAX_BODY_BYTES);
  const bytes =
    declared !== null
      ? new Uint8Array(await request.arrayBuffer())
      : await readLimited(request, MAX_BODY_BYTES);
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
