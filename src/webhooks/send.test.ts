import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Server } from "bun";
import { sendWebhook, type WebhookDelivery } from "./send.ts";
import { generateSecret, verifySignature } from "./signing.ts";

type Received = { path: string; headers: Headers; body: string };

/** A real receiver on loopback; its path picks the answer. */
let server: Server<undefined>;
const received: Received[] = [];

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      received.push({ path, headers: request.headers, body: await request.text() });
      if (path === "/ok") return new Response("thanks");
      if (path === "/pinned") return new Response(null, { status: 204 });
      if (path === "/big") return new Response("x".repeat(1_000_000));
      if (path === "/fail") return new Response("boom", { status: 500 });
      if (path === "/redirect")
        return new Response(null, { status: 302, headers: { location: "http://10.0.0.1/" } });
      return new Promise<Response>(() => {}); // "/hang": never answers
    },
  });
});

afterAll(() => {
  server.stop(true);
});

const secret = generateSecret();
const body = JSON.stringify({ type: "order.completed", data: { order_id: "order_456" } });

function delivery(path: string, overrides: Partial<WebhookDelivery> = {}): WebhookDelivery {
  return {
    url: `http://127.0.0.1:${server.port}${path}`,
    secret,
    id: `msg_${path.slice(1)}`,
    timestamp: new Date(),
    body,
    timeoutMs: 2000,
    policy: { allowedHosts: ["127.0.0.1"] },
    ...overrides,
  };
}

function receivedAt(path: string): Received[] {
  return received.filter((request) => request.path === path);
}

describe("sendWebhook", () => {
  test("connects to the address its check approved, the name in Host: a second DNS answer cannot redirect it", async () => {
    // The name resolves only through the check's resolver (to the receiver); a client resolving it
    // again would get another answer (here: none at all) and could be sent elsewhere.
    let lookups = 0;
    const resolve = async (host: string) => {
      lookups++;
      return host === "receiver.rebind.test" ? ["127.0.0.1"] : [];
    };
    const result = await sendWebhook(
      delivery("/pinned", {
        url: `http://receiver.rebind.test:${server.port}/pinned`,
        policy: { allowedHosts: ["receiver.rebind.test"] },
        resolve,
      }),
    );
    expect(result).toMatchObject({ ok: true, status: 204 });
    expect(lookups).toBe(1);
    const [request] = receivedAt("/pinned");
    expect(request?.headers.get("host")).toBe(`receiver.rebind.test:${server.port}`);
  });

  test("when the first approved address refuses the connection, the next one is tried", async () => {
    const result = await sendWebhook(
      delivery("/pinned", {
        url: `http://receiver.rebind.test:${server.port}/pinned`,
        policy: { allowedHosts: ["receiver.rebind.test"] },
        // 127.0.0.2 is loopback too, but nothing listens on it at this port.
        resolve: async () => ["127.0.0.2", "127.0.0.1"],
      }),
    );
    expect(result).toMatchObject({ ok: true, status: 204 });
  });

  test("https to the approved address still verifies the certificate against the URL's name", async () => {
    const fixtures = join(import.meta.dir, "../../test/fixtures");
    const run = Bun.spawn(
      ["bun", join(fixtures, "send-https-webhook.ts"), "receiver.rebind.test", "other.rebind.test"],
      {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: join(fixtures, "receiver.rebind.test.crt") },
        stdout: "pipe",
      },
    );
    const results = JSON.parse(await new Response(run.stdout).text());
    expect(await run.exited).toBe(0);
    // The certificate names receiver.rebind.test: delivered. Under another name, refused by TLS.
    expect(results["receiver.rebind.test"]).toMatchObject({ ok: true, status: 204 });
    expect(results["other.rebind.test"].ok).toBe(false);
    expect(results["other.rebind.test"].error).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  test("a 200 is ok, and the receiver gets a body whose signature verifies", async () => {
    const result = await sendWebhook(delivery("/ok"));
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(result.error).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    const [request] = receivedAt("/ok");
    expect(request?.body).toBe(body);
    expect(request?.headers.get("content-type")).toBe("application/json");
    expect(request?.headers.get("user-agent")).toBe("order-service-webhooks/1");
    expect(request?.headers.get("webhook-id")).toBe("msg_ok");
    expect(request?.headers.get("webhook-signature")).toMatch(/^v1,/);
    expect(verifySignature(secret, request?.headers ?? new Headers(), request?.body ?? "")).toBe(true);
  });

  test("a large answer does not break the delivery (only its first KiB are read)", async () => {
    expect(await sendWebhook(delivery("/big"))).toMatchObject({ ok: true, status: 200 });
  });

  test("a 500 is not ok and says so", async () => {
    expect(await sendWebhook(delivery("/fail"))).toMatchObject({ ok: false, status: 500, error: "HTTP 500" });
  });

  test("a 302 is not ok and is not followed", async () => {
    const result = await sendWebhook(delivery("/redirect"));
    expect(result).toMatchObject({ ok: false, status: 302, error: "HTTP 302 redirect, not followed" });
  });

  test("a receiver that never answers times out within the limit", async () => {
    const result = await sendWebhook(delivery("/hang", { timeoutMs: 300 }));
    expect(result).toEqual({ ok: false, error: "timed out after 300 ms", durationMs: expect.any(Number) });
    expect(result.durationMs).toBeGreaterThanOrEqual(250);
    expect(result.durationMs).toBeLessThan(300 + 1500);
  });

  test("a refused connection is reported in words", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const url = `http://127.0.0.1:${closed.port}/`;
    closed.stop(true);
    expect(await sendWebhook(delivery("/", { url }))).toMatchObject({
      ok: false,
      error: "connection refused",
    });
  });

  test("a URL the policy refuses is not ok, and no request is made", async () => {
    const before = received.length;
    const result = await sendWebhook(delivery("/ok", { policy: { allowedHosts: [] } }));
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/^refused: .*loopback address/) });
    expect(result.status).toBeUndefined();
    expect(received.length).toBe(before);
  });

  test("a malformed secret is an error, not an exception", async () => {
    const result = await sendWebhook(delivery("/ok", { secret: "not-a-secret" }));
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/whsec_/) });
  });
});
