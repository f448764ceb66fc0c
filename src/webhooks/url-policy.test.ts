import { describe, expect, test } from "bun:test";
import { loadConfig } from "../config.ts";
import { checkWebhookUrl, type ResolveHost, urlPolicy } from "./url-policy.ts";

const open = { allowedHosts: [] };

/** A resolver that fails the test if reached: IP literals and refused URLs must never be looked up. */
const noDns: ResolveHost = async (host) => {
  throw new Error(`unexpected DNS lookup of ${host}`);
};

/** A fake DNS zone for names that must not hit real DNS. */
function zone(records: Record<string, string[]>): ResolveHost {
  return async (host) => {
    const addresses = records[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return addresses;
  };
}

describe("urlPolicy", () => {
  test("WEBHOOK_ALLOWED_HOSTS as config reads it (split and trimmed), lower-cased, IP literals normalized", () => {
    expect(urlPolicy([]).allowedHosts).toEqual([]);
    expect(
      urlPolicy(
        loadConfig({
          WEBHOOK_ALLOWED_HOSTS: " Hooks.Example.com , 127.0.0.1,,[::1], ::ffff:10.0.0.1, example.org. ",
        }).webhookAllowedHosts,
      ).allowedHosts,
    ).toEqual(["hooks.example.com", "127.0.0.1", "::1", "10.0.0.1", "example.org"]);
  });
});

describe("checkWebhookUrl without an allow-list", () => {
  const refused: [string, RegExp][] = [
    ["ftp://example.com/hook", /only http and https/],
    ["file:///etc/passwd", /only http and https/],
    ["https://user:pass@example.com/hook", /user name or password/],
    ["https://user@example.com/hook", /user name or password/],
    ["not a url", /not valid/],
    ["http://127.0.0.1/hook", /loopback address/],
    ["http://127.1/hook", /loopback address/],
    ["http://2130706433/hook", /loopback address/],
    ["http://[::1]:8080/hook", /loopback address/],
    ["http://10.1.2.3/hook", /private address/],
    ["http://172.16.0.1/hook", /private address/],
    ["http://172.31.255.255/hook", /private address/],
    ["http://192.168.1.1/hook", /private address/],
    ["http://169.254.169.254/latest/meta-data/", /link-local address/],
    ["http://[fe80::1]/hook", /link-local address/],
    ["http://100.64.0.1/hook", /carrier-grade NAT address/],
    ["http://0.0.0.0/hook", /unspecified address/],
    ["http://[::]/hook", /unspecified address/],
    ["http://[::ffff:127.0.0.1]/hook", /loopback address/],
    ["http://[::ffff:169.254.169.254]/hook", /link-local address/],
    ["http://[fd00::1]/hook", /private \(unique local\) address/],
    ["http://224.0.0.1/hook", /multicast address/],
    ["http://255.255.255.255/hook", /broadcast address/],
    ["http://240.0.0.1/hook", /reserved address/],
    ["http://[::127.0.0.1]/hook", /reserved address/],
    ["http://[64:ff9b::a00:1]/hook", /rfc6052/],
  ];

  test.each(refused)("refuses %s", async (url, reason) => {
    const result = await checkWebhookUrl(url, open, noDns);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  test("names the address and how to allow it", async () => {
    const result = await checkWebhookUrl("http://10.0.0.5/", open, noDns);
    expect(result).toEqual({
      ok: false,
      reason: "the host 10.0.0.5 is a private address; list it in WEBHOOK_ALLOWED_HOSTS to allow it",
    });
  });

  test("refuses localhost, which really resolves to loopback", async () => {
    const result = await checkWebhookUrl("http://localhost:3000/hook", open);
    expect(result).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/resolves to a loopback address/),
    });
  });

  test.each(["https://8.8.8.8/hook", "http://93.184.215.14:8080/hook", "https://[2606:4700:4700::1111]/"])(
    "allows the public literal %s without DNS",
    async (url) => {
      const result = await checkWebhookUrl(url, open, noDns);
      expect(result.ok).toBe(true);
      if (result.ok) expect(result.url.href).toBe(new URL(url).href);
    },
  );

  test("allows a name whose addresses are all public, and returns them", async () => {
    const resolve = zone({
      "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    });
    const result = await checkWebhookUrl("https://Hooks.Example.com/in", open, resolve);
    expect(result).toMatchObject({
      ok: true,
      addresses: ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    });
  });

  test("refuses a name that resolves to a mix of public and private addresses", async () => {
    const resolve = zone({ "mixed.example.com": ["93.184.215.14", "10.0.0.5"] });
    const result = await checkWebhookUrl("https://mixed.example.com/in", open, resolve);
    expect(result).toEqual({
      ok: false,
      reason:
        "the host resolves to a private address (10.0.0.5); list it in WEBHOOK_ALLOWED_HOSTS to allow it",
    });
  });

  test("refuses a name resolving to IPv4-mapped metadata", async () => {
    const resolve = zone({ "sneaky.example.com": ["::ffff:169.254.169.254"] });
    const result = await checkWebhookUrl("https://sneaky.example.com/", open, resolve);
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/link-local address/) });
  });

  test("refuses a name that does not resolve, or resolves to nothing", async () => {
    const resolve: ResolveHost = async (host) => (host === "empty.example.com" ? [] : zone({})(host));
    expect(await checkWebhookUrl("https://nowhere.example.com/", open, resolve)).toEqual({
      ok: false,
      reason: "the host nowhere.example.com does not resolve",
    });
    expect(await checkWebhookUrl("https://empty.example.com/", open, resolve)).toMatchObject({ ok: false });
  });

  test("reports other resolver failures by code", async () => {
    const failing: ResolveHost = async () => {
      throw Object.assign(new Error("try again"), { code: "EAI_AGAIN" });
    };
    expect(await checkWebhookUrl("https://flaky.example.com/", open, failing)).toEqual({
      ok: false,
      reason: "the host flaky.example.com could not be resolved (EAI_AGAIN)",
    });
  });
});

describe("checkWebhookUrl with an allow-list", () => {
  test("allows a listed loopback name, case-insensitively, resolving it for real", async () => {
    const result = await checkWebhookUrl("http://LocalHost:8080/hook", { allowedHosts: ["localhost"] });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.addresses.length).toBeGreaterThan(0);
  });

  test("matches IP literals in normalized form", async () => {
    const policy = urlPolicy(["127.0.0.1", "[::1]"]);
    for (const url of [
      "http://127.0.0.1:9/",
      "http://[::1]:9/",
      "http://[0:0:0:0:0:0:0:1]/",
      "http://[::ffff:7f00:1]/",
    ]) {
      expect(await checkWebhookUrl(url, policy, noDns)).toMatchObject({ ok: true });
    }
  });

  test("is the only list: a public host not on it is refused without DNS", async () => {
    const policy = { allowedHosts: ["localhost"] };
    expect(await checkWebhookUrl("https://8.8.8.8/", policy, noDns)).toEqual({
      ok: false,
      reason: "the host 8.8.8.8 is not in WEBHOOK_ALLOWED_HOSTS",
    });
    expect(await checkWebhookUrl("https://hooks.example.com/", policy, noDns)).toMatchObject({ ok: false });
    expect(await checkWebhookUrl("http://127.0.0.1/", policy, noDns)).toMatchObject({ ok: false });
  });

  test("still refuses other schemes and credentials on listed hosts", async () => {
    const policy = { allowedHosts: ["localhost"] };
    expect(await checkWebhookUrl("ftp://localhost/", policy, noDns)).toMatchObject({ ok: false });
    expect(await checkWebhookUrl("http://a:b@localhost/", policy, noDns)).toMatchObject({ ok: false });
  });
});
