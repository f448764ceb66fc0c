/**
 * Page cursors of the keyset listings (orders, webhook deliveries): an opaque base64url of the
 * last row's seq, so clients pass back what they got and never build one.
 */

/** The cursor that continues after `seq`. */
export const encodeCursor = (seq: number): string => Buffer.from(String(seq)).toString("base64url");

/** The seq a cursor stands for, or undefined when it is not one this API returned. */
export function decodeCursor(cursor: string): number | undefined {
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, "base64url").toString() : "";
  const seq = Number(decoded);
  return /^\d+$/.test(decoded) && Number.isSafeInteger(seq) ? seq : undefined;
}
