/** Request ids: the client's own when it is sane, else a new one. */

/** A client id we accept and echo: what an `order_id` may be, at most 128 characters. */
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `X-Request-Id` if sane (it goes into logs and headers as is), else a new UUID. */
export function requestIdOf(sent: string | null): string {
  return sent !== null && SANE_ID.test(sent) ? sent : crypto.randomUUID();
}
