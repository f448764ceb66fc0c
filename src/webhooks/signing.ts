/**
 * Signing of outgoing webhooks per the Standard Webhooks specification (standardwebhooks.com), so
 * that receivers can verify them with any of that project's libraries.
 *
 * Each delivery carries `webhook-id`, `webhook-timestamp` (integer seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "${id}.${timestamp}.${body}">`, keyed with the
 * base64-decoded part of a `whsec_<base64>` secret. The HMAC itself is the official `standardwebhooks`
 * package's (pure JavaScript, works under Bun as is), so we sign exactly as receivers verify; this
 * module adds secret generation, a strict secret check and a boolean verifier.
 */
import { randomBytes } from "node:crypto";
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
  const seconds = toSeconds(message.timestamp);
  const signature = createWebhook(secret).sign(message.id, new Date(seconds * 1000), message.body);
  return {
    "webhook-id": message.id,
    "webhook-timestamp": String(seconds),
    "webhook-signature": signature,
  };
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
