/**
 * Signing of outgoing webhooks per the Standard Webhooks specification (standardwebhooks.com), so
 * that receivers can verify them with any of that project's libraries.
 *
 * Each delivery carries `webhook-id`, `webhook-timestamp` (integer seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "${id}.${timestamp}.${body}">`, keyed with the
 * base64-decoded part of a `whsec_<base64>` secret. Signing uses the runtime's native HMAC
 * (node:crypto): the official `standardwebhooks` package computes the same HMAC in pure JavaScript,
 * which cost the sender ~2 % of its thread per delivery in a profile; signing.test.ts checks every
 * signature made here with that package's verifier, so we still sign exactly as receivers verify.
 * The package stays for verifying (tests, and `verifySignature`).
 */
import { createHmac, randomBytes } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

const SECRET_PREFIX = "whsec_";
/** 32 random bytes: the HMAC-SHA256 block-sized key the specification recommends (24 to 64 allowed). */
const SECRET_BYTES = 32;

/** The three Standard Webhooks headers of one delivery. */
export type SignatureHeaders = {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
};

/** What is signed: the message id (the same on every retry), when it was sent, and the exact body. */
export type SignedMessage = {
  id: string;
  /** A Date, or integer seconds since the epoch; sub-second parts are dropped as the spec requires. */
  timestamp: Date | number;
  body: string;
};

/** Creates a new signing secret: `whsec_` followed by 32 random bytes in base64. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString("base64");
}

/** Signs one message and returns the headers to send with it; throws a TypeError for a malformed secret. */
export function signatureHeaders(secret: string, message: SignedMessage): SignatureHeaders {
  const seconds = String(toSeconds(message.timestamp));
  const hmac = createHmac("sha256", signingKey(secret));
  const signature = hmac.update(`${message.id}.${seconds}.${message.body}`).digest("base64");
  return {
    "webhook-id": message.id,
    "webhook-timestamp": seconds,
    "webhook-signature": `v1,${signature}`,
  };
}

// Decoded keys by secret: a sender signs for a few subscriptions over and over. Bounded, so
// secrets of deleted subscriptions cannot pile up.
const keys = new Map<string, Buffer>();
const MAX_KEYS = 1000;

/** The HMAC key of a `whsec_<base64>` secret; a TypeError for a malformed one. */
function signingKey(secret: string): Buffer {
  const known = keys.get(secret);
  if (known) return known;
  createWebhook(secret); // the package's own checks of the secret, so both refuse the same ones
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
  if (keys.size >= MAX_KEYS) keys.clear();
  keys.set(secret, key);
  return key;
}

/**
 * Verifies a received webhook as a receiver would, with the package's own verifier. Returns false when
 * a header is missing, no `v1` signature matches, or the timestamp is more than 5 minutes from now (the
 * package's replay window, against the real clock); throws a TypeError only for a malformed secret.
 */
export function verifySignature(
  secret: string,
  headers: Headers | Record<string, string>,
  body: string,
): boolean {
  const webhook = createWebhook(secret);
  const plain = headers instanceof Headers ? Object.fromEntries(headers.entries()) : headers;
  try {
    // jsonParse: false, so that a valid signature over a body that is not JSON still counts as valid.
    webhook.verify(body, plain, { jsonParse: false });
    return true;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
}

/** The package accepts a bare base64 key too; we insist on the prefix so a wrong value fails loudly. */
function createWebhook(secret: string): Webhook {
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new TypeError(`a webhook secret must look like ${SECRET_PREFIX}<base64>`);
  }
  try {
    return new Webhook(secret);
  } catch (error) {
    throw new TypeError(`invalid webhook secret: ${(error as Error).message}`);
  }
}

function toSeconds(timestamp: Date | number): number {
  const seconds = timestamp instanceof Date ? timestamp.getTime() / 1000 : timestamp;
  if (!Number.isFinite(seconds)) throw new TypeError("a webhook timestamp must be a valid time");
  return Math.floor(seconds);
}
