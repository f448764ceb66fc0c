/**
 * TRUSTED_PROXIES through real HTTP: whose X-Forwarded-For names the client for the rate limit and
 * the access log. A test's connections come from 127.0.0.1, so listing 127.0.0.1 makes the test a
 * trusted proxy, and a list without it makes it an untrusted client.
 */
import { afterEach, expect, spyOn, test } from "bun:test";
import { flushLogs } from "../src/kit/logger.ts";
import { cleanup, startService } from "./helpers.ts";

afterEach(cleanup);

/** GET /metrics as sent with this X-Forwarded-For (and request id); its RateLimit-Remaining. */
async function remainingAfter(url: URL, forwardedFor: string, requestId = ""): Promise<number> {
  const headers: Record<string, string> = { "x-forwarded-for": forwardedFor };
  if (requestId) headers["x-request-id"] = requestId;
  const answer = await fetch(new URL("/metrics", url), { headers });
  await answer.arrayBuffer();
  expect(answer.status).toBe(200);
  return Number(answer.headers.get("ratelimit-remaining"));
}

/**
 * How many rate-limit buckets two clients' requests are counted in, from the RateLimit-Remaining
 * of four requests sent as A, B, A, B: one bucket counts down by one each time, two count down in
 * pairs. A one-second window that ends among the four gives neither shape: then it tries again.
 */
async function bucketsOf(url: URL, first: string, second: string): Promise<1 | 2> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [a1, b1, a2, b2] = [
      await remainingAfter(url, first),
      await remainingAfter(url, second),
      await remainingAfter(url, first),
      await remainingAfter(url, second),
    ] as [number, number, number, number];
    if (b1 === a1 - 1 && a2 === b1 - 1 && b2 === a2 - 1) return 1;
    if (a2 === a1 - 1 && b2 === b1 - 1 && b1 !== a1 - 1) return 2;
  }
  throw new Error("every attempt straddled the end of a rate-limit window");
}

/** The access log's `client` of each request id, from the lines written to stdout so far. */
function loggedClients(written: { mock: { calls: unknown[][] } }): Map<string, string> {
  flushLogs();
  const entries = written.mock.calls
    .flatMap(([text]) => String(text).split("\n"))
    .filter((line) => line.includes('"message":"request"'))
    .map((line) => JSON.parse(line) as { requestId: string; client: string });
  return new Map(entries.map(({ requestId, client }) => [requestId, client]));
}

test("a spoofed X-Forwarded-For from an untrusted peer changes nothing: one bucket, the peer logged", async () => {
  const written = spyOn(console, "log");
  try {
    for (const trusted of [undefined, "10.0.0.0/8, ::1"]) {
      const { url } = await startService({
        LOG_LEVEL: "info",
        RATE_LIMIT_PER_S: "100",
        ...(trusted ? { TRUSTED_PROXIES: trusted } : {}),
      });
      expect(await bucketsOf(url, "203.0.113.7", "198.51.100.9")).toBe(1);
      // Naming one of the listed proxies does not make the peer one.
      expect(await bucketsOf(url, "203.0.113.7, 10.1.2.3", "198.51.100.9, 10.1.2.3")).toBe(1);
      await remainingAfter(url, "203.0.113.7", `spoof-${trusted ? "listed" : "unset"}`);
    }
    const clients = loggedClients(written);
    expect(clients.get("spoof-unset")).toBe("127.0.0.1");
    expect(clients.get("spoof-listed")).toBe("127.0.0.1");
  } finally {
    written.mockRestore();
  }
});

test("behind a trusted proxy, two clients get separate buckets; the rightmost untrusted hop is the client", async () => {
  const written = spyOn(console, "log");
  try {
    const { url } = await startService({
      LOG_LEVEL: "info",
      RATE_LIMIT_PER_S: "100",
      TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8",
    });
    expect(await bucketsOf(url, "203.0.113.7", "198.51.100.9")).toBe(2);
    // One client through two different proxies of ours is still one client.
    expect(await bucketsOf(url, "203.0.113.7, 10.1.2.3", "203.0.113.7, 10.4.5.6")).toBe(1);
    // What the client wrote itself (the leftmost entry) is not believed.
    expect(await bucketsOf(url, "192.0.2.1, 203.0.113.7, 10.1.2.3", "192.0.2.2, 203.0.113.7")).toBe(1);

    await remainingAfter(url, "192.0.2.66, 203.0.113.7, 10.1.2.3", "chain");
    await remainingAfter(url, "10.1.2.3, 10.4.5.6", "all-trusted");
    await remainingAfter(url, "203.0.113.7, unknown, 10.1.2.3", "malformed");
    const clients = loggedClients(written);
    expect(clients.get("chain")).toBe("203.0.113.7");
    expect(clients.get("all-trusted")).toBe("10.1.2.3");
    expect(clients.get("malformed")).toBe("10.1.2.3");
  } finally {
    written.mockRestore();
  }
});
