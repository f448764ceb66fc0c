import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { generateSecret, signatureHeaders, verifySignature } from "./signing.ts";

const body = JSON.stringify({ type: "order.completed", data: { order_id: "order_456" } });

function signNow(secret: string, payload = body) {
  return signatureHeaders(secret, { id: "msg_1", timestamp: new Date(), body: payload });
}

describe("generateSecret", () => {
  test("is whsec_ and 32 random bytes in base64", () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice("whsec_".length), "base64").length).toBe(32);
    expect(generateSecret()).not.toBe(secret);
  });
});

describe("signatureHeaders", () => {
  test("gives the three headers, integer seconds and a v1 signature", () => {
    const headers = signatureHeaders(generateSecret(), { id: "msg_1", timestamp: 1_700_000_000.9, body });
    expect(Object.keys(headers).sort()).toEqual(["webhook-id", "webhook-signature", "webhook-timestamp"]);
    expect(headers["webhook-id"]).toBe("msg_1");
    expect(headers["webhook-timestamp"]).toBe("1700000000");
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  test("a Date and its seconds sign alike", () => {
    const secret = generateSecret();
    const fromDate = signatureHeaders(secret, { id: "m", timestamp: new Date(1_700_000_000_500), body });
    const fromSeconds = signatureHeaders(secret, { id: "m", timestamp: 1_700_000_000, body });
    expect(fromDate).toEqual(fromSeconds);
  });

  test("equals an HMAC-SHA256 computed independently with node:crypto", () => {
    const key = Buffer.alloc(32, 7);
    const secret = `whsec_${key.toString("base64")}`;
    const headers = signatureHeaders(secret, { id: "msg_2", timestamp: 1_700_000_000, body });
    const expected = createHmac("sha256", key).update(`msg_2.1700000000.${body}`).digest("base64");
    expect(headers["webhook-signature"]).toBe(`v1,${expected}`);
  });

  test("refuses a secret without the whsec_ prefix or with bad base64", () => {
    const message = { id: "m", timestamp: 1, body };
    expect(() => signatureHeaders("c2VjcmV0", message)).toThrow(TypeError);
    expect(() => signatureHeaders("whsec_!!", message)).toThrow(TypeError);
    expect(() => signatureHeaders("whsec_", message)).toThrow(TypeError);
  });
});

describe("verification", () => {
  test("the package's own verifier accepts what we sign", () => {
    const secret = generateSecret();
    const headers = signNow(secret);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(verifySignature(secret, headers, body)).toBe(true);
  });

  test("accepts a Headers object and a body that is not JSON", () => {
    const secret = generateSecret();
    const headers = signNow(secret, "plain text");
    expect(verifySignature(secret, new Headers(headers), "plain text")).toBe(true);
  });

  test("a tampered body, another secret or a missing header fails", () => {
    const secret = generateSecret();
    const headers = signNow(secret);
    expect(verifySignature(secret, headers, body.replace("456", "457"))).toBe(false);
    expect(verifySignature(generateSecret(), headers, body)).toBe(false);
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow("No matching signature found");
    const { "webhook-id": _id, ...withoutId } = headers;
    expect(verifySignature(secret, withoutId, body)).toBe(false);
  });

  test("a timestamp outside the 5-minute window fails", () => {
    const secret = generateSecret();
    const old = signatureHeaders(secret, { id: "m", timestamp: Date.now() / 1000 - 600, body });
    expect(verifySignature(secret, old, body)).toBe(false);
  });
});
