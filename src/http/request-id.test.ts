import { expect, test } from "bun:test";
import { requestIdOf } from "./request-id.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test("keeps a sane client id, replaces anything else with a new UUID", () => {
  for (const sane of ["abc", "req-1.2_3:4", "x".repeat(128)]) expect(requestIdOf(sane)).toBe(sane);
  for (const insane of [null, "", "x".repeat(129), "has space", 'quote"', "new\nline", "ünï", "a/b"]) {
    expect(requestIdOf(insane)).toMatch(UUID);
  }
  expect(requestIdOf(null)).not.toBe(requestIdOf(null));
});
