/**
 * The live dashboard in a real headless Chromium, with the network cut (nothing but the service
 * answers), against real services: it moves when orders arrive, lists failed orders and retries
 * them, asks for an API key when /dashboard/data needs one, and fits a phone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { browserMissing, launchBrowser, offlineBut } from "./browser.ts";
import { call, cleanup, order, startService, type TestService, tempDir, waitFor } from "./helpers.ts";

// Debian's chromium; .ci/run installs it when missing.
const GATED = join(import.meta.dir, "fixtures/process-order-gated.ts");
// Generous: chromium and the service share two cores.
// (Browser callbacks reach the page through `globalThis as any`: this TypeScript has no DOM library.)
const STEP_MS = 15_000;
const TEST_MS = 60_000;

describe.skipIf(browserMissing("Dashboard browser tests"))("the dashboard in a browser, offline", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(() => browser?.close());
  afterEach(cleanup);

  /**
   * Opens /dashboard of `service` with every request for another host aborted; `foreign` collects
   * those requests and `errors` the page's uncaught errors.
   */
  async function openDashboard(service: TestService, viewport = { width: 1280, height: 800 }) {
    const context = await browser.newContext({ viewport });
    const foreign = await offlineBut(context, service.url.host);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(new URL("/dashboard", service.url).href);
    return { page, foreign, errors, close: () => context.close() };
  }

  /** Waits until the page has drawn at least `n` samples; returns how many it has. */
  async function samplesAtLeast(page: Page, n: number, timeout = STEP_MS): Promise<number> {
    await page.waitForFunction(
      (min) => Number((globalThis as any).document.getElementById("orders-chart").dataset.samples) >= min,
      n,
      { timeout },
    );
    return page.evaluate(() =>
      Number((globalThis as any).document.getElementById("orders-chart").dataset.samples),
    );
  }

  test(
    "orders posted through the API move the total, the chart and the backlog within 2 s",
    async () => {
      const service = await startService({ WORKERS: "2" });
      const { page, foreign, errors, close } = await openDashboard(service);
      try {
        const before = await samplesAtLeast(page, 2);
        const created = await Promise.all(
          Array.from({ length: 50 }, (_, i) => call(service.url, "POST", "/orders", order(`dash-${i}`))),
        );
        expect(created.every((res) => res.status === 201)).toBe(true);
        await page.waitForFunction(
          (samples) => {
            const d = (globalThis as any).document;
            return (
              d.getElementById("orders-total").dataset.total === "50" &&
              Number(d.getElementById("orders-chart").dataset.samples) > samples
            );
          },
          before,
          { timeout: 2000 },
        );
        await page.waitForFunction(
          () =>
            (globalThis as any).document.querySelector(".status-completed .status-count")?.textContent ===
            "50",
          undefined,
          { timeout: STEP_MS },
        );
        expect(await page.textContent("#connection")).toBe("Live");
        expect(await page.textContent("#orders-total")).toBe("50");
        expect(foreign).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        await close();
      }
    },
    TEST_MS,
  );

  test(
    "a failed order is listed with its last error, and its Retry button makes it complete",
    async () => {
      const gates = tempDir();
      // Worker threads read the gate folder from the process environment.
      process.env.ORDER_GATES = gates;
      const service = await startService({ WORKERS: "2", PROCESS_ORDER_MODULE: GATED, MAX_ATTEMPTS: "1" });
      const { page, foreign, errors, close } = await openDashboard(service);
      try {
        const id = "gated-dash-1";
        expect((await call(service.url, "POST", "/orders", order(id))).status).toBe(201);
        const row = page.locator(`#failures tr[data-order-id="${id}"]`);
        await row.filter({ hasText: "gate closed" }).waitFor({ timeout: STEP_MS });
        expect(await row.locator(".col-user").textContent()).toBe("user_123");

        writeFileSync(join(gates, id), "");
        const [retried] = await Promise.all([
          page.waitForResponse((res) => res.url().endsWith(`/orders/${id}/retry`), { timeout: STEP_MS }),
          row.getByRole("button", { name: `Retry order ${id}` }).click(),
        ]);
        expect(retried.status()).toBe(200);
        await waitFor(
          async () => (await call(service.url, "GET", `/orders/${id}/status`)).body.status === "completed",
          { what: `${id} to complete` },
        );
        await row.waitFor({ state: "detached", timeout: STEP_MS });
        expect(await page.isVisible("#failures-empty")).toBe(true);
        expect(foreign).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        await close();
      }
    },
    TEST_MS,
  );

  test(
    "with keys on, the page asks for one, keeps it in sessionStorage only, and asks again for a wrong one",
    async () => {
      const key = "0123456789abcdef0123456789abcdef";
      const service = await startService({ WORKERS: "2", API_KEYS: key, DASHBOARD_PUBLIC: "false" });
      const posted = await fetch(new URL("/orders", service.url), {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key },
        body: JSON.stringify(order("keyed-1")),
      });
      expect(posted.status).toBe(201);
      const { page, foreign, errors, close } = await openDashboard(service);
      try {
        await page.waitForSelector("#key-form", { state: "visible", timeout: STEP_MS });
        expect(await page.textContent("#connection")).toBe("API key needed");
        expect(await page.getAttribute("#orders-total", "data-total")).toBe("0");

        await page.fill("#key-input", "not-the-key");
        await page.click("#key-form button[type=submit]");
        await page.waitForSelector("#key-error", { state: "visible", timeout: STEP_MS });
        expect(await page.isVisible("#key-form")).toBe(true);

        await page.fill("#key-input", key);
        await page.click("#key-form button[type=submit]");
        await page.waitForSelector('#orders-total[data-total="1"]', { timeout: STEP_MS });
        expect(await page.isVisible("#key-form")).toBe(false);
        const stored = await page.evaluate(() => {
          const g = globalThis as any;
          const all = (storage: any) =>
            Array.from({ length: storage.length }, (_, i) => storage.getItem(storage.key(i)));
          return { session: all(g.sessionStorage), local: all(g.localStorage) };
        });
        expect(stored.session).toContain(key);
        expect(stored.local.join("\n")).not.toContain(key);
        expect(foreign).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        await close();
      }
    },
    TEST_MS,
  );

  test(
    "on a phone (390×844) the page does not scroll sideways and both charts are visible",
    async () => {
      process.env.ORDER_GATES = tempDir();
      const service = await startService({ WORKERS: "2", PROCESS_ORDER_MODULE: GATED, MAX_ATTEMPTS: "1" });
      // A failed order, so the widest part of the page, its table, has a row.
      await call(service.url, "POST", "/orders", order("gated-phone-with-a-long-order-id-1"));
      const { page, foreign, errors, close } = await openDashboard(service, { width: 390, height: 844 });
      try {
        await page.locator('#failures tr[data-order-id^="gated-phone"]').waitFor({ timeout: STEP_MS });
        await samplesAtLeast(page, 2);
        const layout = await page.evaluate(() => {
          const g = globalThis as any;
          const canvases = [...g.document.querySelectorAll(".chart canvas")].map((canvas: any) => {
            const box = canvas.getBoundingClientRect();
            return { left: box.left, right: box.right, height: box.height };
          });
          return { scrollWidth: g.document.documentElement.scrollWidth, innerWidth: g.innerWidth, canvases };
        });
        expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
        expect(layout.canvases).toHaveLength(2);
        for (const canvas of layout.canvases) {
          expect(canvas.left).toBeGreaterThanOrEqual(0);
          expect(canvas.right).toBeLessThanOrEqual(layout.innerWidth);
          expect(canvas.height).toBeGreaterThan(100);
        }
        for (const chart of ["#orders-chart", "#trouble-chart"])
          expect(await page.isVisible(chart)).toBe(true);
        expect(foreign).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        await close();
      }
    },
    TEST_MS,
  );
});
