/**
 * One webhook delivery attempt: check the target again, POST the signed body, report what happened.
 *
 * The URL is checked again at every attempt, not only when it was subscribed, because DNS can change
 * in between; and the request goes to the address that check approved, not to a name the HTTP client
 * would resolve again (a DNS answer that changes between the two, "rebinding", could otherwise point
 * it at our own network). The name still goes in the Host header, and for https it is the TLS server
 * name the certificate is verified against. Redirects are not followed (a 3xx is a failure): one could
 * point inside our network and skip that check. The whole attempt, the check's DNS lookup included, is bounded by one timeout, and
 * only the first few KiB of a response are read, so a slow or hostile receiver cannot hold a worker.
 * It never throws: retries and logging belong to the caller, which needs an outcome, not an exception.
 */

import { signatureHeaders } from "./signing.ts";
import { checkWebhookUrl, type ResolveHost, type UrlPolicy } from "./url-policy.ts";

/** One attempt to deliver one message to one subscriber. */
export type WebhookDelivery = {
  url: string;
  secret: string;
  /** The message id: the same on every retry, so that receivers can drop duplicates. */
  id: string;
  timestamp: Date | number;
  /** The JSON text to send, signed byte for byte as given. */
  body: string;
  timeoutMs: number;
  policy: UrlPolicy;
  /** How host names are resolved (the system's DNS by default; tests choose their answers). */
  resolve?: ResolveHost;
  /** The W3C traceparent of the attempt's span (tracing on), sent as the `traceparent` header. */
  traceparent?: string | undefined;
};

/** The outcome of an attempt: ok means a 2xx status; `error` is a short sentence otherwise. */
export type DeliveryResult = { ok: boolean; status?: number; error?: string; durationMs: number };

const USER_AGENT = "order-service-webhooks/1";
/** Enough to drain a typical acknowledgement; what a receiver sends beyond it is never read. */
const MAX_RESPONSE_BYTES = 4096;

/** Sends one signed webhook and reports the outcome; never throws. */
export async function sendWebhook(delivery: WebhookDelivery): Promise<DeliveryResult> {
  const started = performance.now();
  let outcome: Omit<DeliveryResult, "durationMs">;
  try {
    // Inside the try: AbortSignal.timeout throws for a negative or non-numeric timeout.
    outcome = await attempt(delivery, AbortSignal.timeout(delivery.timeoutMs));
  } catch (error) {
    outcome = { ok: false, error: describeError(error, delivery.timeoutMs) };
  }
  return { ...outcome, durationMs: Math.round(performance.now() - started) };
}

async function attempt(
  delivery: WebhookDelivery,
  signal: AbortSignal,
): Promise<Omit<DeliveryResult, "durationMs">> {
  const check = await untilAborted(checkWebhookUrl(delivery.url, delivery.policy, delivery.resolve), signal);
  if (!check.ok) return { ok: false, error: `refused: ${check.reason}` };
  const headers = {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    host: check.url.host,
    ...signatureHeaders(delivery.secret, delivery),
    ...(delivery.traceparent ? { traceparent: delivery.traceparent } : {}),
  };
  // For https to a name, the certificate is verified against that name (Bun's serverName; checked: a
  // name the certificate does not carry fails with ERR_TLS_CERT_ALTNAME_INVALID).
  const tls =
    check.url.protocol === "https:" && !check.literal ? { tls: { serverName: check.url.hostname } } : {};
  const response = await firstAnswering(check.addresses, signal, (address) =>
    fetch(pinned(check.url, address), {
      method: "POST",
      headers,
      body: delivery.body,
      redirect: "manual",
      signal,
      ...tls,
    }),
  );
  await discardBody(response);
  const status = response.status;
  if (status >= 200 && status < 300) return { ok: true, status };
  if (status >= 300 && status < 400)
    return { ok: false, status, error: `HTTP ${status} redirect, not followed` };
  return { ok: false, status, error: `HTTP ${status}` };
}

/**
 * `post` to each approved address in the resolver's order until one answers: the next one when a
 * connection fails (an IPv6 address on a host without IPv6 routes, one server of several down), as
 * a client resolving the name itself would. The last failure, or an abort, is thrown.
 */
async function firstAnswering(
  addresses: string[],
  signal: AbortSignal,
  post: (address: string) => Promise<Response>,
): Promise<Response> {
  for (const [i, address] of addresses.entries()) {
    try {
      return await post(address);
    } catch (error) {
      if (signal.aborted || i === addresses.length - 1) throw error;
    }
  }
  throw new Error("the host has no address");
}

/** `url` with its host name replaced by `address` (an IP the check approved), port and path kept. */
function pinned(url: URL, address: string): URL {
  const target = new URL(url);
  // The check approved it as an IP: only an IPv6 address has colons.
  target.hostname = address.includes(":") ? `[${address}]` : address;
  return target;
}

/** Reads at most MAX_RESPONSE_BYTES and drops the rest; the status is already known, so errors are moot. */
async function discardBody(response: Response): Promise<void> {
  const reader = response.body?.getReader();
  if (!reader) return;
  try {
    let read = 0;
    while (read < MAX_RESPONSE_BYTES) {
      const chunk = await reader.read();
      if (chunk.done) return;
      read += chunk.value.byteLength;
    }
    await reader.cancel();
  } catch {
    // A body cut short or timed out does not change the status the receiver answered.
  }
}

/** Rejects with the signal's reason when it aborts first: DNS lookups take no signal of their own. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

const ERROR_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

/** A short sentence for a delivery log: the timeout by name, common socket errors in words. */
function describeError(error: unknown, timeoutMs: number): string {
  const { name, code, message } = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  if (name === "TimeoutError") return `timed out after ${timeoutMs} ms`;
  const known = typeof code === "string" ? ERROR_CODES[code] : undefined;
  if (known) return known;
  const text = typeof message === "string" && message !== "" ? message : String(error);
  return text.split("\n", 1)[0]?.slice(0, 200) ?? "unknown error";
}
