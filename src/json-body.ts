/**
 * Strict JSON body parsing for routes that take a body: JSON only (415 otherwise), at most
 * MAX_BODY_BYTES (413), well-formed (400). Errors are `AppError`s, so they get the one envelope.
 */
import { invalidJson, payloadTooLarge, unsupportedMediaType } from "./errors.ts";

/** Largest accepted request body: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads at most `limit` bytes of a body whose length is not declared (chunked). */
async function readLimited(request: Request, limit: number): Promise<string> {
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw payloadTooLarge(MAX_BODY_BYTES);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Parses the request body as JSON under the rules above. */
export async function parseJsonBody(request: Request): Promise<unknown> {
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";", 1)[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") {
    throw unsupportedMediaType(contentType);
  }
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) throw payloadTooLarge(MAX_BODY_BYTES);
  const text = declared !== null ? await request.text() : await readLimited(request, MAX_BODY_BYTES);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidJson((error as Error).message);
  }
}
