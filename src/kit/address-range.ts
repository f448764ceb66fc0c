/**
 * IP addresses and CIDR blocks as TRUSTED_PROXIES lists them and proxies write them: the one
 * definition config.ts validates with and src/http/client-address.ts matches with. A leaf: it
 * imports nothing of the service.
 */
import ipaddr from "ipaddr.js";

/** A parsed IPv4 or IPv6 address. */
export type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A block of addresses: its first address and prefix length. */
export type AddressRange = [Address, number];

/**
 * An address as a proxy writes it: four-part decimal IPv4 (not `127.1` or `0x7f.1`, which ipaddr.js
 * would also take) or IPv6, IPv4-mapped IPv6 unwrapped to IPv4; undefined for anything else.
 */
export function parseAddress(text: string): Address | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (ipaddr.IPv6.isValid(text)) return ipaddr.process(text);
  return undefined;
}

/** An address (`10.0.0.7`, `::1`) or a CIDR block (`10.0.0.0/8`, `fd00::/8`); undefined if neither. */
export function parseRange(text: string): AddressRange | undefined {
  const slash = text.indexOf("/");
  const address = parseAddress(slash === -1 ? text : text.slice(0, slash));
  if (address === undefined) return undefined;
  const bits = address.kind() === "ipv4" ? 32 : 128;
  if (slash === -1) return [address, bits];
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  let prefix = Number(prefixText);
  // An IPv4-mapped block (::ffff:10.0.0.0/104) was unwrapped to IPv4 above: its prefix follows.
  if (address.kind() === "ipv4" && text.includes(":")) prefix -= 96;
  if (prefix < 0 || prefix > bits) return undefined;
  return [address, prefix];
}

/** A range in one canonical spelling, `address/prefix`: how the configuration keeps it. */
export function formatRange([address, prefix]: AddressRange): string {
  return `${address.toString()}/${prefix}`;
}
