/**
 * Strict query strings, checked before routing: every percent-escape must decode to UTF-8 (400
 * otherwise: `user_id=%FF` is not a user id), and a parameter given twice is a 422 (a repeated
 * `status` used to take the last value silently).
 */
import { invalidQuery, validationFailed } from "./errors.ts";

const decode = (part: string) => decodeURIComponent(part.replaceAll("+", " "));

/** Throws the `AppError` for a query string of `url` that is not acceptable; silent otherwise. */
export function checkQueryString(url: string): void {
  const start = url.indexOf("?");
  if (start < 0) return;
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const part of url.slice(start + 1).split("&")) {
    if (part === "") continue;
    const equals = part.indexOf("=");
    const rawKey = equals < 0 ? part : part.slice(0, equals);
    let key: string;
    try {
      key = decode(rawKey);
      if (equals >= 0) decode(part.slice(equals + 1));
    } catch {
      throw invalidQuery(part);
    }
    if (seen.has(key)) repeated.add(key);
    seen.add(key);
  }
  if (repeated.size > 0) {
    throw validationFailed(
      [...repeated].map((field) => ({ field, message: "must be given once" })),
      "query",
    );
  }
}
