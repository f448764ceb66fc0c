/**
 * Debian's chromium for the page tests, driven by playwright-core (never a downloaded browser).
 * Without it the page tests are skipped with one line, so `bun run test` works on a fresh machine;
 * .ci/run installs chromium and sets REQUIRE_BROWSER, so there they always run.
 */
import { expect } from "bun:test";
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

/** Whether the page tests of `suite` must be skipped (and says so once); throws under REQUIRE_BROWSER. */
export function browserMissing(suite: string): boolean {
  if (existsSync(CHROMIUM)) return false;
  const message = `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`;
  if (process.env.REQUIRE_BROWSER) throw new Error(message);
  console.log(`${suite} skipped: ${message}`);
  return true;
}

/** Starts headless chromium, with nothing of its own reaching the network. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/**
 * Cuts `context` off every host but `hosts` (host:port): such requests are aborted as if offline,
 * and listed in the returned array.
 */
export async function offlineBut(context: BrowserContext, ...hosts: string[]): Promise<string[]> {
  const foreign: string[] = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (hosts.includes(url.host)) return route.continue();
    foreign.push(url.href);
    return route.abort("internetdisconnected");
  });
  return foreign;
}

/**
 * Collects what the pages of `context` report against their Content-Security-Policy: every
 * `securitypolicyviolation` event (directive and blocked URL), and every console error naming the
 * policy (Chromium reports some refusals, such as a frame's, only there). Playwright's init script
 * and binding are not subject to the page's policy, so watching changes nothing.
 */
export async function watchCsp(context: BrowserContext): Promise<string[]> {
  const reported: string[] = [];
  await context.exposeBinding("reportCspViolation", (_source, text: string) => {
    reported.push(text);
  });
  await context.addInitScript(() => {
    const g = globalThis as any;
    g.addEventListener("securitypolicyviolation", (event: any) =>
      g.reportCspViolation(`${event.effectiveDirective} refused ${event.blockedURI || "inline"}`),
    );
  });
  context.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy")) {
      reported.push(message.text());
    }
  });
  return reported;
}

/** A Content-Security-Policy header's directives: name → its values. */
export function cspDirectives(header: string | null): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of (header ?? "").split(";")) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

/**
 * Asserts the headers of a page of ours (the dashboard, Swagger UI): a policy of its own files
 * only (no inline script or style) that no site may frame, and X-Frame-Options for old browsers.
 */
export function expectPagePolicy(headers: Record<string, string>): void {
  const csp = cspDirectives(headers["content-security-policy"] ?? null);
  expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
  expect(csp.get("script-src")).toEqual(["'self'"]);
  expect(csp.get("style-src")).toEqual(["'self'"]);
  expect(csp.get("default-src")).toEqual(["'none'"]);
  expect(headers["x-frame-options"]).toBe("DENY");
}
