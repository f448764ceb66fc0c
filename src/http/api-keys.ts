/**
 * API keys: which one a request presents, and whether it is one of ours, compared in constant
 * time. Keys are compared as SHA-256 digests, so the comparison takes the same time whatever the
 * length or the content of what was sent, and every configured key is compared every time.
 */
import crypto from "node:crypto";

// Bun.SHA256.hash: several times faster a key than a CryptoHasher or createHash (figures:
// docs/PERFORMANCE.md).
const digest = (key: string) => Bun.SHA256.hash(key) as Uint8Array;

/** The key a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. */
export function presentedKey(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization !== null && authorization.length > 7 && /^bearer $/i.test(authorization.slice(0, 7))) {
    return authorization.slice(7).trim();
  }
  return headers.get("x-api-key")?.trim() || undefined;
}

/**
 * A matcher over the configured keys: the index of the key `presented` is, or -1. The index (not
 * the key) is what may name a client elsewhere, in rate limits for instance.
 */
export function createKeyMatcher(keys: readonly string[]): (presented: string | undefined) => number {
  const digests = keys.map(digest);
  return (presented) => {
    if (presented === undefined) return -1;
    const sent = digest(presented);
    let found = -1;
    // No early exit: the time does not tell which key matched, or how many were tried.
    for (let i = 0; i < digests.length; i++) {
      if (crypto.timingSafeEqual(sent, digests[i] as Uint8Array) && found === -1) found = i;
    }
    return found;
  };
}
