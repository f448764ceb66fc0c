import { expect, test } from "bun:test";
import { clientAddressResolver } from "./client-address.ts";

const forwarded = (value?: string) => new Headers(value === undefined ? {} : { "x-forwarded-for": value });

test("without trusted proxies there is nothing to resolve: the peer is the client", () => {
  expect(clientAddressResolver([])).toBeUndefined();
});

test("an untrusted peer is the client, whatever X-Forwarded-For it sends", () => {
  const clientOf = clientAddressResolver(["10.0.0.0/8"]);
  expect(clientOf?.("192.0.2.1", forwarded("10.1.1.1"))).toBe("192.0.2.1");
  expect(clientOf?.("192.0.2.1", forwarded("203.0.113.7, 10.1.1.1"))).toBe("192.0.2.1");
  expect(clientOf?.("unknown", forwarded("203.0.113.7"))).toBe("unknown");
});

test("behind trusted proxies: the rightmost untrusted hop, trusted hops skipped", () => {
  const clientOf = clientAddressResolver(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
  expect(clientOf?.("127.0.0.1", forwarded("203.0.113.7"))).toBe("203.0.113.7");
  // The client wrote the leftmost entry itself; the proxies appended the rest.
  expect(clientOf?.("127.0.0.1", forwarded("198.51.100.1, 203.0.113.7, 10.1.2.3"))).toBe("203.0.113.7");
  expect(clientOf?.("127.0.0.1", forwarded("203.0.113.7,10.1.2.3 ,  10.9.9.9"))).toBe("203.0.113.7");
  expect(clientOf?.("127.0.0.1", forwarded("2001:DB8::7, fd00::2"))).toBe("2001:db8::7");
  // An IPv4-mapped peer is matched as the IPv4 address it carries.
  expect(clientOf?.("::ffff:127.0.0.1", forwarded("203.0.113.7"))).toBe("203.0.113.7");
  expect(clientOf?.("::ffff:10.0.0.5", forwarded("::ffff:203.0.113.7"))).toBe("203.0.113.7");
  // All trusted: the leftmost. No header: the peer.
  expect(clientOf?.("127.0.0.1", forwarded("10.1.2.3, 10.4.5.6"))).toBe("10.1.2.3");
  expect(clientOf?.("127.0.0.1", forwarded())).toBe("127.0.0.1");
});

test("behind trusted proxies: a malformed hop stops the walk at the last good one", () => {
  const clientOf = clientAddressResolver(["127.0.0.1", "10.0.0.0/8"]);
  for (const [header, client] of [
    ["unknown", "127.0.0.1"],
    ["", "127.0.0.1"],
    ["203.0.113.7, ", "127.0.0.1"],
    ["203.0.113.7:4711", "127.0.0.1"],
    ["203.0.113.7, unknown, 10.1.2.3", "10.1.2.3"],
    ["203.0.113.7, [2001:db8::7], 10.1.2.3", "10.1.2.3"],
    [',"><script>, 10.1.2.3', "10.1.2.3"],
    [", 10.1.2.3", "10.1.2.3"],
  ] as const) {
    expect({ header, client: clientOf?.("127.0.0.1", forwarded(header)) }).toEqual({ header, client });
  }
});
