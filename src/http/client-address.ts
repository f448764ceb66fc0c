/**
 * The client's address behind proxies we trust (TRUSTED_PROXIES): what the rate limit counts by
 * and the access log names.
 *
 * X-Forwarded-For is believed only when the TCP peer is a listed proxy, never otherwise: anyone can
 * send the header. Each proxy appends the address it was connected from, so the list is walked
 * from the right, over the addresses of listed proxies, to the first address that is not one: the
 * rightmost untrusted hop is the first address a proxy of ours vouches for, everything left of it
 * is the client's to write. Every address we reach was written by a listed proxy; if one of them
 * wrote something that is not an address ("unknown", a port, brackets), the walk stops at the last
 * good hop (the proxy that wrote it, or the peer): the nearest address known to be true.
 */
import { type Address, type AddressRange, parseAddress, parseRange } from "../kit/address-range.ts";

/** The client's address of a request: from its TCP peer's address and its headers. */
export type ClientAddressOf = (peer: string, headers: Headers) => string;

/**
 * How to find the client's address behind the given proxies (ranges as `parseRange` reads them).
 * Undefined when none is listed: the peer is the client, and nothing need be read or parsed.
 */
export function clientAddressResolver(trustedProxies: string[]): ClientAddressOf | undefined {
  const ranges = trustedProxies
    .map((entry) => parseRange(entry))
    .filter((range): range is AddressRange => range !== undefined);
  if (ranges.length === 0) return undefined;
  const trusted = (address: Address) =>
    ranges.some(([first, prefix]) => first.kind() === address.kind() && address.match(first, prefix));

  return (peer, headers) => {
    const peerAddress = parseAddress(peer);
    if (peerAddress === undefined || !trusted(peerAddress)) return peer;
    const forwarded = headers.get("x-forwarded-for"); // several headers arrive joined by ", "
    if (forwarded === null) return peer;
    let client = peer;
    let end = forwarded.length;
    // From the right with lastIndexOf: a long list costs only the hops walked, never a split.
    for (;;) {
      const start = forwarded.lastIndexOf(",", end - 1);
      const hop = parseAddress(forwarded.slice(start + 1, end).trim());
      if (hop === undefined) return client;
      client = hop.toString();
      if (!trusted(hop) || start === -1) return client;
      end = start;
    }
  };
}
