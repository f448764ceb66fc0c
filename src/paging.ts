/**
 * Keyset paging of the listings (orders, webhook deliveries): the page a query asks for, checked,
 * and the cursor of the next one, an opaque base64url of the last row's seq, so clients pass back
 * what they got and never build one.
 */
import { validationFailed } from "./errors.ts";

const DEFAULT_PAGE = 50;

const encodeCursor = (seq: number): string => Buffer.from(String(seq)).toString("base64url");

/** The seq a cursor stands for, or undefined when it is not one this API returned. */
function decodeCursor(cursor: string): number | undefined {
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, "base64url").toString() : "";
  const seq = Number(decoded);
  return /^\d+$/.test(decoded) && Number.isSafeInteger(seq) ? seq : undefined;
}

/**
 * The page `query` asks for: `limit` rows (1 to `max`, 50 when absent) after the row `afterSeq`
 * (0: from the start). A 422 names `limit` and `cursor`, every problem at once.
 */
export function pageRequest(query: { limit?: number; cursor?: string }, max: number) {
  const limit = query.limit ?? DEFAULT_PAGE;
  const afterSeq = query.cursor === undefined ? 0 : decodeCursor(query.cursor);
  const problems = [
    ...(Number.isInteger(limit) && limit >= 1 && limit <= max
      ? []
      : [{ field: "limit", message: `must be a whole number from 1 to ${max}` }]),
    ...(afterSeq === undefined ? [{ field: "cursor", message: "is not a cursor this API returned" }] : []),
  ];
  if (problems.length > 0 || afterSeq === undefined) throw validationFailed(problems, "query");
  // One more row than shown is fetched: if it comes back, another page follows.
  return { limit, afterSeq, fetch: limit + 1 };
}

/** The page out of `rows` (fetched with `fetch` of pageRequest), and the next page's cursor or null. */
export function pageOf<T extends { seq: number }>(rows: T[], limit: number) {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null };
}
