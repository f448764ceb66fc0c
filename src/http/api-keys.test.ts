import { expect, spyOn, test } from "bun:test";
import crypto from "node:crypto";
import { createKeyMatcher, presentedKey } from "./api-keys.ts";

const KEYS = ["first-key-0123456789", "second-key-0123456789abcdef"];

test("finds the index of the key sent, -1 for anything else", () => {
  const match = createKeyMatcher(KEYS);
  expect(match(KEYS[0])).toBe(0);
  expect(match(KEYS[1])).toBe(1);
  for (const wrong of [
    undefined,
    "",
    "first-key-012345678",
    "first-key-01234567890",
    "FIRST-KEY-0123456789",
    "x",
  ]) {
    expect(match(wrong)).toBe(-1);
  }
});

test("compares fixed-length digests with timingSafeEqual, every key every time", () => {
  const match = createKeyMatcher(KEYS);
  const compare = spyOn(crypto, "timingSafeEqual");
  try {
    for (const sent of [
      KEYS[0],
      "short",
      "a much longer key than any configured one, of any length at all",
    ]) {
      compare.mockClear();
      match(sent);
      // No early exit on a match, and the same 32-byte digests whatever the length sent.
      expect(compare).toHaveBeenCalledTimes(KEYS.length);
      for (const [a, b] of compare.mock.calls as [Uint8Array, Uint8Array][]) {
        expect(a.byteLength).toBe(32);
        expect(b.byteLength).toBe(32);
      }
    }
  } finally {
    compare.mockRestore();
  }
});

test("reads Authorization: Bearer (any case) first, then X-API-Key", () => {
  const key = (headers: Record<string, string>) => presentedKey(new Headers(headers));
  expect(key({ authorization: "Bearer abc" })).toBe("abc");
  expect(key({ authorization: "bearer abc" })).toBe("abc");
  expect(key({ "x-api-key": "abc" })).toBe("abc");
  expect(key({ authorization: "Bearer abc", "x-api-key": "def" })).toBe("abc");
  expect(key({ authorization: "Basic abc" })).toBeUndefined();
  expect(key({ authorization: "Basic abc", "x-api-key": "def" })).toBe("def");
  expect(key({})).toBeUndefined();
});
