/**
 * Keyset paging of the listings (orders, webhook deliveries): the page a query asks for, checked,
 * and the cursor of the next one, an opaque base64url of the last row's seq, so clients pass back
 * what they got and never build one.
 */
import { validationFailed } from "./errors.ts";

/** Rows a listing page has when the query names no limit. */
export const DEFAULT_PAGE = 50;

const encodeCursor = (seq: number): string => Buffer.from(String(seq)).toString("base64url");

/** The seq a cursor stands for, or undefined when it is not one this API returned. */
function decodeCursor(cursor: string): number | undefined {
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, "base64url").toString() : "";
  const seq = Number(decoded);
  return /^\d+$/.test(decoded) && Number.isSafeInteger(seq) ? seq : undefined;
}

/** What a page's `limit` must be, in the schema's error and in the service's own 422. */
export const limitRule = (max: number) => `must be a whole number from 1 to ${max}`;

/** The 422 of a `limit` outside 1 to `max` (the routes declare it as their example). */
export const limitInvalid = (max: number) =>
  validationFailed([{ field: "limit", message: limitRule(max) }], "query");

/**
 * The page `query` asks for: `limit` rows (1 to `max`, 50 when absent) after the row its cursor
 * names, decoded by `decode` (undefined: not a cursor this API returned; no cursor: from the
 * start). A 422 names `limit` and `cursor`, every problem at once.
 */
export function pageQuery<K>(
  query: { limit?: number; cursor?: string },
  max: number,
  decode: (cursor: string) => K | undefined,
): { limit: number; after: K | undefined; fetch: number } {
  const limit = query.limit ?? DEFAULT_PAGE;
  const after = query.cursor === undefined ? undefined : decode(query.cursor);
  const problems = [
    ...(Number.isInteger(limit) && limit >= 1 && limit <= max
      ? []
      : [{ field: "limit", message: limitRule(max) }]),
    ...(query.cursor !== undefined && after === undefined
      ? [{ field: "cursor", message: "is not a cursor this API returned" }]
      : []),
  ];
  if (problems.length > 0) throw validationFailed(problems, "query");
  // One more row than shown is fetched: if it comes back, another page follows.
  return { limit, after, fetch: limit + 1 };
}

/** The page `query` asks for in a listing by seq (0: from the start); see pageQuery. */
export function pageRequest(query: { limit?: number; cursor?: string }, max: number) {
  const { limit, after, fetch } = pageQuery(query, max, decodeCursor);
  return { limit, afterSeq: after ?? 0, fetch };
}

/** The page out of `rows` (fetched with `fetch` of pageQuery), and the next page's cursor or null. */
export function pageOfRows<T>(rows: T[], limit: number, encode: (last: T) => string) {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > limit && last !== undefined ? encode(last) : null };
}

/** The page out of `rows` of a listing by seq; see pageOfRows. */
export function pageOf<T extends { seq: number }>(rows: T[], limit: number) {
  return pageOfRows(rows, limit, (last) => encodeCursor(last.seq));
}
