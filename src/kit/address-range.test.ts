import { expect, test } from "bun:test";
import { formatRange, parseAddress, parseRange } from "./address-range.ts";

test("ranges: addresses and CIDR blocks, IPv4 and IPv6, in one canonical spelling", () => {
  const canonical = (text: string) => {
    const range = parseRange(text);
    return range && formatRange(range);
  };
  expect(canonical("10.0.0.7")).toBe("10.0.0.7/32");
  expect(canonical("10.0.0.0/8")).toBe("10.0.0.0/8");
  expect(canonical("::1")).toBe("::1/128");
  expect(canonical("FD00:0::/8")).toBe("fd00::/8");
  expect(canonical("::ffff:10.0.0.0/104")).toBe("10.0.0.0/8");
  expect(canonical("::ffff:10.0.0.7")).toBe("10.0.0.7/32");
  for (const bad of [
    "",
    "10.0.0",
    "127.1",
    "10/8",
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/",
    "10.0.0.0/x",
    "proxy.local",
  ])
    expect(parseRange(bad)).toBeUndefined();
});

test("addresses as proxies write them: dotted quads and IPv6 only, IPv4-mapped unwrapped", () => {
  expect(parseAddress("203.0.113.7")?.toString()).toBe("203.0.113.7");
  expect(parseAddress("::ffff:203.0.113.7")?.toString()).toBe("203.0.113.7");
  expect(parseAddress("2001:DB8:0::7")?.toString()).toBe("2001:db8::7");
  for (const bad of [
    "unknown",
    "203.0.113.7:4711",
    "[2001:db8::7]",
    "127.1",
    "0x7f.0.0.1",
    "01.2.3.4",
    " 1.2.3.4",
  ])
    expect(parseAddress(bad)).toBeUndefined();
});
