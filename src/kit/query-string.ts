/**
 * Strict query strings, checked before routing: every percent-escape must decode to UTF-8 (400
 * otherwise: `user_id=%FF` is not a user id), a parameter given twice is a 422 (a repeated
 * `status` used to take the last value silently), and numbers are plain decimal digits. Every
 * route with query parameters calls `checkQuery` in its `transform`.
 */
import { invalidQuery, validationFailed } from "./errors.ts";

const decode = (part: string) => decodeURIComponent(part.replaceAll("+", " "));

/**
 * Refuses a query number that is not plain decimal digits (`1e2`, `0x10`, `1.0`, `+2`, ` 2` would
 * otherwise be read as numbers by the schema's coercion). Called with the raw value.
 */
export function checkDecimal(value: string | null, field: string): void {
  if (value !== null && !/^[0-9]{1,9}$/.test(value)) {
    throw validationFailed([{ field, message: "must be a whole number in decimal digits" }], "query");
  }
}

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

/** The strict checks of a route's query: the string as a whole, then each of `numbers`. */
export function checkQuery(url: string, numbers: string[] = []): void {
  checkQueryString(url);
  if (numbers.length === 0) return;
  const params = new URL(url).searchParams;
  for (const field of numbers) checkDecimal(params.get(field), field);
}
