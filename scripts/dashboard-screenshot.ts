/**
 * `bun scripts/dashboard-screenshot.ts`: remakes docs/dashboard.png and docs/dashboard-phone.png
 * from a real run: the service (`bun src/main.ts`) on a temp database with slow-ish, sometimes
 * failing processing, the dashboard open in Debian's chromium, and three real k6 bursts a few
 * seconds apart, so the charts show the bursts and the retries and failures they cause. The wide
 * screenshot is taken while the last burst arrives, the phone one just after it.
 *
 * Needs /usr/bin/chromium and the k6 binary in ../shared/tools/k6 (K6 overrides the path).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const ROOT = join(import.meta.dir, "..");
const PORT = 3990;
const BASE_URL = `http://127.0.0.1:${PORT}`;
const K6 = process.env.K6 ?? join(ROOT, "../shared/tools/k6/k6");
const BURSTS = 3;
const ORDERS = 1000;
const PAUSE_MS = 4000;

/** Polls `check` until it is truthy, for up to `timeoutMs`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** One k6 burst (ORDERS orders at once, then waits for them); a few orders fail for good, so k6's
 * completion threshold may fail: that is the point of the picture, not an error here. */
async function burst() {
  const k6 = Bun.spawn([K6, "run", "--no-usage-report", "-q", "k6/orders.js"], {
    cwd: ROOT,
    env: { ...process.env, BASE_URL, ORDERS: String(ORDERS) },
    stdout: "ignore",
    stderr: "ignore",
  });
  await k6.exited;
}

const dir = mkdtempSync(join(tmpdir(), "dashboard-screenshot-"));
const service = Bun.spawn(["bun", "src/main.ts"], {
  cwd: ROOT,
  env: {
    ...process.env,
    HOST: "127.0.0.1",
    PORT: String(PORT),
    DATABASE_PATH: join(dir, "orders.db"),
    PROCESSING_TIME_MS: "100",
    PROCESSING_FAILURE_RATE: "0.05",
    MAX_ATTEMPTS: "2",
    RETRY_BASE_MS: "200",
    LOG_LEVEL: "warn",
  },
  stdout: "ignore",
  stderr: "inherit",
});
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  await until(async () => (await fetch(`${BASE_URL}/ready`)).ok, "the service to be ready");
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${BASE_URL}/dashboard`);
  // A few quiet seconds first, so the charts start from zero.
  await Bun.sleep(PAUSE_MS);
  for (let i = 0; i < BURSTS - 1; i++) {
    await burst();
    await Bun.sleep(PAUSE_MS);
  }
  // The wide picture in the middle of the last burst: as soon as the page shows its orders arriving.
  const last = burst();
  // A function, not a string: the page's Content-Security-Policy refuses eval, which a string needs.
  await page.waitForFunction(
    (before) => {
      type Element = { dataset: Record<string, string>; textContent: string };
      const d = (globalThis as unknown as { document: { getElementById(id: string): Element } }).document;
      return (
        Number(d.getElementById("orders-total").dataset.total) > before &&
        !/^0(\.0)?\/s$/.test(d.getElementById("rate-created").textContent)
      );
    },
    (BURSTS - 1) * ORDERS,
    { timeout: 60_000, polling: 100 },
  );
  await page.screenshot({ path: join(ROOT, "docs/dashboard.png"), fullPage: true });
  await last;
  // The phone one after it, once the last burst's completions and failures are on the page.
  await Bun.sleep(2000);
  await page.setViewportSize({ width: 390, height: 844 });
  await Bun.sleep(1000);
  await page.screenshot({ path: join(ROOT, "docs/dashboard-phone.png"), fullPage: true });
} finally {
  await browser.close();
  service.kill("SIGTERM");
  await service.exited;
  rmSync(dir, { recursive: true, force: true });
}
