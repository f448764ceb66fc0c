/**
 * Which URLs the service may send webhooks to: the guard against server-side request forgery.
 *
 * A subscriber chooses the URL and our server makes the request, so without this check anyone could
 * make us POST to our own loopback, the private network or a cloud metadata endpoint
 * (169.254.169.254). Rules: http or https only, no credentials in the URL; when an allow-list is set
 * (`WEBHOOK_ALLOWED_HOSTS`) the host must be on it and nothing else is allowed; without one, every
 * address the host resolves to must be public. "Public" is what ipaddr.js classes as `unicast` (after
 * unwrapping IPv4-mapped IPv6), and for IPv6 also inside 2000::/3, the only block IANA allocates for
 * global unicast: that refuses the IPv4-compatible ::a.b.c.d form, which ipaddr.js calls unicast.
 * Every other range it names (loopback, private, linkLocal, uniqueLocal, carrierGradeNat, unspecified,
 * multicast, broadcast, reserved, NAT64 rfc6052, 6to4, teredo, ...) is refused.
 *
 * The check resolves names itself and returns the addresses it approved; the sender connects to one
 * of those (send.ts), so a DNS answer that changes after the check (rebinding) changes nothing.
 */
import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

/** Where webhooks may go: a non-empty allow-list is the only set of hosts allowed. */
export type UrlPolicy = { allowedHosts: string[] };

/** Resolves a host name to its IP addresses; injectable so that tests need no real DNS. */
export type ResolveHost = (host: string) => Promise<string[]>;

/**
 * The outcome of a check: the parsed URL, the addresses approved (the host itself when it is an IP,
 * `literal`), or a sentence for a 422 message.
 */
export type UrlCheck =
  | { ok: true; url: URL; addresses: string[]; literal: boolean }
  | { ok: false; reason: string };

const ALLOW_HINT = "list it in WEBHOOK_ALLOWED_HOSTS to allow it";

/** The only IPv6 block allocated for global unicast (RFC 4291, IANA). */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR("2000::/3");

/** How a refused range is named in a reason, with its article. */
const RANGE_LABELS: Record<string, string> = {
  loopback: "a loopback",
  private: "a private",
  uniqueLocal: "a private (unique local)",
  linkLocal: "a link-local",
  carrierGradeNat: "a carrier-grade NAT",
  unspecified: "an unspecified",
  multicast: "a multicast",
  broadcast: "a broadcast",
  reserved: "a reserved",
  invalid: "an invalid",
};

/** The policy of `WEBHOOK_ALLOWED_HOSTS` (host names or IPs, as config read them), entries normalized. */
export function urlPolicy(allowedHosts: string[]): UrlPolicy {
  return { allowedHosts: allowedHosts.map((entry) => normalizeHost(entry)).filter((entry) => entry !== "") };
}

/** Checks a webhook target URL against the policy; never throws. */
export async function checkWebhookUrl(
  raw: string,
  policy: UrlPolicy,
  resolve: ResolveHost = resolveWithDns,
): Promise<UrlCheck> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "the URL is not valid" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, reason: "only http and https URLs are allowed" };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, reason: "the URL must not contain a user name or password" };
  }
  const host = normalizeHost(url.hostname);
  if (host === "") return { ok: false, reason: "the URL has no host" };
  const allowList = policy.allowedHosts.map(normalizeHost);
  if (allowList.length > 0 && !allowList.includes(host)) {
    return { ok: false, reason: `the host ${host} is not in WEBHOOK_ALLOWED_HOSTS` };
  }

  const literal = isIp(host);
  const found = literal ? { addresses: [host] } : await resolveAll(host, resolve);
  if ("reason" in found) return { ok: false, reason: found.reason };
  if (allowList.length > 0) return { ok: true, url, addresses: found.addresses, literal };

  for (const address of found.addresses) {
    const range = classifyAddress(address);
    if (range === "public") continue;
    const kind = `${RANGE_LABELS[range] ?? `a non-public (${range})`} address`;
    const subject = literal ? `the host ${host} is ${kind}` : `the host resolves to ${kind} (${address})`;
    return { ok: false, reason: `${subject}; ${ALLOW_HINT}` };
  }
  return { ok: true, url, addresses: found.addresses, literal };
}

/**
 * Remembers the answers of a function of one string (the last MEMO_SIZE strings): the sender checks
 * the same few hosts and addresses on every attempt, and parsing them was a tenth of its CPU. The
 * functions remembered are pure: an address's range never changes (resolving a name is never
 * remembered).
 */
function remembered<T>(fn: (text: string) => T): (text: string) => T {
  const answers = new Map<string, T>();
  return (text) => {
    if (answers.has(text)) return answers.get(text) as T;
    const answer = fn(text);
    if (answers.size >= MEMO_SIZE) answers.clear();
    answers.set(text, answer);
    return answer;
  };
}
const MEMO_SIZE = 1000;

const isIp = remembered((text) => ipaddr.isValid(text));

/** "public", or the ipaddr.js range name that makes an address unfit ("invalid" if it is not one). */
const classifyAddress = remembered((address: string): string => {
  if (!ipaddr.isValid(address)) return "invalid";
  const ip = ipaddr.process(address);
  const range = ip.range();
  if (range !== "unicast") return range;
  if (ip.kind() === "ipv6" && !ip.match(GLOBAL_UNICAST_V6)) return "reserved";
  return "public";
});

/** Lower-case, without IPv6 brackets or a root dot, IP literals in one canonical form. */
const normalizeHost = remembered((host: string): string => {
  const bare = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
  return isIp(bare) ? ipaddr.process(bare).toString() : bare;
});

async function resolveAll(
  host: string,
  resolve: ResolveHost,
): Promise<{ addresses: string[] } | { reason: string }> {
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ENOTFOUND" || code === "ENODATA") return { reason: `the host ${host} does not resolve` };
    return { reason: `the host ${host} could not be resolved (${String(code ?? error)})` };
  }
  if (addresses.length === 0) return { reason: `the host ${host} does not resolve` };
  return { addresses };
}

async function resolveWithDns(host: string): Promise<string[]> {
  const results = await lookup(host, { all: true, verbatim: true });
  return results.map((result) => result.address);
}
