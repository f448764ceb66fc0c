/**
 * The live dashboard in a real headless Chromium, with the network cut (nothing but the service
 * answers), against real services: it moves when orders arrive, lists failed orders and retries
 * them, asks for an API key when /dashboard/data needs one, and fits a phone; all of it under its
 * Content-Security-Policy with nothing refused, and no other site can frame it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { browserMissing, expectPagePolicy, launchBrowser, offlineBut, watchCsp } from "./browser.ts";
import { call, cleanup, order, startService, type TestService, tempDir, waitFor } from "./helpers.ts";

// Debian's chromium; .ci/run installs it when missing.
const GATED = join(import.meta.dir, "fixtures/process-order-gated.ts");
const STEPS = join(import.meta.dir, "fixtures/steps-journal.ts");
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
   * those requests, `errors` the page's uncaught errors and `refused` what its
   * Content-Security-Policy refused; `headers` are the page's response headers.
   */
  async function openDashboard(service: TestService, viewport = { width: 1280, height: 800 }) {
    const context = await browser.newContext({ viewport });
    const foreign = await offlineBut(context, service.url.host);
    const refused = await watchCsp(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const response = await page.goto(new URL("/dashboard", service.url).href);
    const headers = (await response?.allHeaders()) ?? {};
    return { page, headers, foreign, errors, refused, close: () => context.close() };
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
      const { page, foreign, errors, refused, close } = await openDashboard(service);
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
        expect(refused).toEqual([]);
      } finally {
        await close();
      }
    },
    TEST_MS,
  );

  test(
    "a module's steps: each step's run time and outcomes over the last minute; a failed order says its steps were undone",
    async () => {
      process.env.STEPS_JOURNAL = join(tempDir(), "journal");
      const service = await startService({
        PROCESS_ORDER_MODULE: STEPS,
        MAX_ATTEMPTS: "2",
        RETRY_BASE_MS: "10",
      });
      const { page, errors, refused, close } = await openDashboard(service);
      try {
        for (let i = 0; i < 5; i++) await call(service.url, "POST", "/orders", order(`steps-${i}`));
        // Step three always fails for this one: after two attempts, steps two and one are undone.
        await call(service.url, "POST", "/orders", order("broken-dash"));
        const data = await waitFor(async () => {
          const body = (await call(service.url, "GET", "/dashboard/data")).body;
          const one = body.steps.find((step: { name: string }) => step.name === "one");
          return one?.compensated === 1 && body.recent_failures.length === 1 && body;
        });
        const outcomes = (step: { name: string; completed: number; failed: number; compensated: number }) => [
          step.name,
          step.completed,
          step.failed,
          step.compensated,
        ];
        expect(data.steps.map(outcomes)).toEqual([
          ["one", 6, 0, 1],
          ["two", 6, 0, 1],
          ["three", 5, 2, 0],
        ]);
        for (const step of data.steps) expect(step.p95_ms).toBeGreaterThanOrEqual(step.p50_ms);
        expect(data.recent_failures[0]).toMatchObject({
          order_id: "broken-dash",
          failed_step: "three",
          compensation: "compensated",
        });
        await page.waitForSelector('#steps[data-steps="one,two,three"]', { timeout: STEP_MS });
        // The page polls once a second: wait for the poll that saw the compensations.
        await page.waitForFunction(
          () =>
            (globalThis as any).document.querySelector("#steps tr:first-child td:nth-child(6)")
              ?.textContent === "1",
          undefined,
          { timeout: STEP_MS },
        );
        const rows = await page.$$eval("#steps tr", (trs) =>
          trs.map((tr) => [...tr.children].map((cell) => cell.textContent)),
        );
        expect(rows.map((cells) => [cells[0], cells[3], cells[4], cells[5]])).toEqual([
          ["one", "6", "0", "1"],
          ["two", "6", "0", "1"],
          ["three", "5", "2", "0"],
        ]);
        expect(await page.isHidden("#steps-empty")).toBe(true);
        await page.waitForFunction(
          () =>
            (globalThis as any).document
              .getElementById("failures")
              .textContent.includes("(in three; steps undone)"),
          undefined,
          { timeout: STEP_MS },
        );
        expect(errors).toEqual([]);
        expect(refused).toEqual([]);
      } finally {
        await close();
      }
    },
    TEST_MS,
  );

  test(
    "the value accepted in the last minute, by currency, in /dashboard/data and on the page",
    async () => {
      const service = await startService({ WORKERS: "1" });
      const { page, errors, refused, close } = await openDashboard(service);
      try {
        const euro = (i: number) => ({
          user_id: "u",
          order_id: `value-eur-${i}`,
          currency: "EUR",
          items: [{ sku: "A", quantity: 3, unit_price: 1000.5 }],
        });
        for (let i = 0; i < 400; i++)
          expect((await call(service.url, "POST", "/orders", euro(i))).status).toBe(201);
        // Seed-shaped orders are in the default currency.
        for (let i = 0; i < 2; i++) await call(service.url, "POST", "/orders", order(`value-usd-${i}`));
        const expected = [
          { currency: "EUR", amount: "1200600.00", minor: 120_060_000 },
          { currency: "USD", amount: "301.98", minor: 30_198 },
        ];
        const data = await waitFor(async () => {
          const body = (await call(service.url, "GET", "/dashboard/data")).body;
          return body.value_accepted.length === 2 && body;
        });
        expect(data.value_accepted).toEqual(expected);
        await page.waitForSelector('#value-accepted[data-currencies="EUR,USD"]', { timeout: STEP_MS });
        const rows = await page.$$eval(".value-row", (items) => items.map((item) => item.textContent));
        expect(rows).toEqual(["EUR1,200,600.00", "USD301.98"]);
        expect(await page.isHidden("#value-empty")).toBe(true);
        expect(errors).toEqual([]);
        expect(refused).toEqual([]);
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
      const { page, foreign, errors, refused, close } = await openDashboard(service);
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
        expect(refused).toEqual([]);
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
      const { page, foreign, errors, refused, close } = await openDashboard(service);
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
        expect(refused).toEqual([]);
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
      const { page, foreign, errors, refused, close } = await openDashboard(service, {
        width: 390,
        height: 844,
      });
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
        expect(refused).toEqual([]);
      } finally {
        await close();
      }
    },
    TEST_MS,
  );
  test(
    "/dashboard is sent with a Content-Security-Policy (its own scripts only, no frame) and goes live under it with nothing refused",
    async () => {
      const service = await startService({ WORKERS: "2" });
      const { page, headers, foreign, errors, refused, close } = await openDashboard(service);
      try {
        expectPagePolicy(headers);
        // The data route is not a page: no policy of its own.
        const data = await fetch(new URL("/dashboard/data", service.url));
        expect(data.headers.get("content-security-policy")).toBeNull();

        expect((await call(service.url, "POST", "/orders", order("csp-1"))).status).toBe(201);
        await page.waitForSelector('#orders-total[data-total="1"]', { timeout: STEP_MS });
        await samplesAtLeast(page, 2);
        expect(await page.textContent("#connection")).toBe("Live");
        // The stylesheets applied: the cards have their white background, not the default.
        expect(
          await page.$eval(".card", (card) => (globalThis as any).getComputedStyle(card).backgroundColor),
        ).toBe("rgb(255, 255, 255)");
        expect(foreign).toEqual([]);
        expect(errors).toEqual([]);
        expect(refused).toEqual([]);
      } finally {
        await close();
      }
    },
    TEST_MS,
  );

  test(
    "a webhook receiver that is down shows as lagging in /dashboard/data and on the page, as GET /webhooks says; one that keeps pace does not",
    async () => {
      const service = await startService({
        WORKERS: "2",
        WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
        WEBHOOK_RETRY_BASE_MS: "60000",
        WEBHOOK_LAGGING_AFTER_MS: "1000",
      });
      // One receiver answers; the other's port is closed (a server started, then stopped, after
      // everything else listens), so its delivery fails and waits a minute for its retry: pending,
      // and lagging after 1 s.
      const up = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
      const gone = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
      const downOrigin = `http://127.0.0.1:${gone.port}`;
      gone.stop(true);
      const { page, foreign, errors, refused, close } = await openDashboard(service);
      try {
        // Nothing pending: one calm line, no table, no alert.
        const card = page.locator("#webhooks");
        await page.waitForSelector("#webhooks-summary:has-text('no delivery pending')", { timeout: STEP_MS });
        expect(await card.getAttribute("class")).not.toContain("alert");
        expect(await page.isVisible("#webhooks-table")).toBe(false);

        const subscribe = async (url: string) => {
          const res = await call(service.url, "POST", "/webhooks", { url, event_types: ["created"] });
          expect(res.status).toBe(201);
          return res.body.id as string;
        };
        const down = await subscribe(`${downOrigin}/hook?token=secret-of-the-receiver`);
        const keeping = await subscribe(`http://127.0.0.1:${up.port}/hook`);
        expect((await call(service.url, "POST", "/orders", order("hooked-1"))).status).toBe(201);

        // The data: the one that is down is behind and lags; the other's delivery went out.
        const data = async () => (await call(service.url, "GET", "/dashboard/data")).body.webhooks;
        const webhooks = await waitFor(
          async () => {
            const now = await data();
            return now.subscriptions_lagging === 1 && now.subscriptions_behind === 1 && now;
          },
          { what: "the subscription that is down to lag, alone" },
        );
        expect(webhooks).toEqual({
          lagging_after_ms: 1000,
          pending: 1,
          subscriptions_behind: 1,
          subscriptions_lagging: 1,
          behind: [
            { id: down, origin: downOrigin, pending: 1, oldest_age_ms: expect.any(Number), lagging: true },
          ],
        });
        expect(webhooks.behind[0].oldest_age_ms).toBeGreaterThan(1000);
        // The same rule as GET /webhooks.
        const listed = (await call(service.url, "GET", "/webhooks")).body.webhooks as any[];
        expect(Object.fromEntries(listed.map((w) => [w.id, [w.backlog, w.lagging]]))).toEqual({
          [down]: [1, true],
          [keeping]: [0, false],
        });

        // The page: the card warns, the row is highlighted and says so; the token is not shown.
        const row = page.locator(`#webhooks-behind tr[data-webhook-id="${down}"]`);
        await row.filter({ hasText: "Lagging" }).waitFor({ timeout: STEP_MS });
        expect(await row.getAttribute("class")).toContain("lagging");
        expect(await row.locator(".col-origin").textContent()).toBe(downOrigin);
        expect(await row.locator(".col-pending").textContent()).toBe("1");
        expect(await card.getAttribute("data-lagging")).toBe("1");
        expect(await card.getAttribute("class")).toContain("alert");
        expect(await page.textContent("#webhooks-summary")).toContain("1 subscription lagging");
        expect(await page.locator(`tr[data-webhook-id="${keeping}"]`).count()).toBe(0);
        expect(await page.textContent("body")).not.toContain("secret-of-the-receiver");
        expect(
          await page.evaluate(
            () => (globalThis as any).document.documentElement.scrollWidth <= (globalThis as any).innerWidth,
          ),
        ).toBe(true);

        // Unsubscribed, its deliveries go with it: the card is calm again.
        expect((await call(service.url, "DELETE", `/webhooks/${down}`)).status).toBe(204);
        await row.waitFor({ state: "detached", timeout: STEP_MS });
        await page.waitForSelector('#webhooks[data-lagging="0"][data-pending="0"]', { timeout: STEP_MS });
        expect(await card.getAttribute("class")).not.toContain("alert");
        expect(await page.isVisible("#webhooks-table")).toBe(false);
        expect(foreign).toEqual([]);
        expect(errors).toEqual([]);
        expect(refused).toEqual([]);
      } finally {
        await close();
        up.stop(true);
      }
    },
    TEST_MS,
  );

  test(
    "a page on another origin cannot show /dashboard in a frame: Chromium refuses it, nothing of it loads",
    async () => {
      const service = await startService({ WORKERS: "2" });
      const dashboard = new URL("/dashboard", service.url).href;
      const framer = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () =>
          new Response(
            `<!doctype html><title>Another site</title><iframe src="${dashboard}" width="1000" height="700"></iframe>`,
            { headers: { "content-type": "text/html; charset=utf-8" } },
          ),
      });
      const context = await browser.newContext();
      try {
        const foreign = await offlineBut(context, service.url.host, `127.0.0.1:${framer.port}`);
        const refused = await watchCsp(context);
        const requested: string[] = [];
        context.on("request", (request) => requested.push(new URL(request.url()).pathname));
        const page = await context.newPage();
        const dashboardAnswered = page.waitForResponse(dashboard, { timeout: STEP_MS });
        await page.goto(framer.url.href);
        expect((await dashboardAnswered).status()).toBe(200);
        await waitFor(() => refused.some((text) => text.includes("frame-ancestors")), {
          what: "Chromium to refuse the frame",
        });
        const frame = page.frames().find((f) => f !== page.mainFrame());
        expect(frame?.url()).not.toBe(dashboard);
        expect(
          await frame?.evaluate(() => (globalThis as any).document.getElementById("orders-total") !== null),
        ).toBe(false);
        // The page was fetched and thrown away: none of its scripts, styles or data were asked for.
        expect(requested.filter((path) => path.startsWith("/dashboard/"))).toEqual([]);
        expect(foreign).toEqual([]);
      } finally {
        await context.close();
        framer.stop(true);
      }
    },
    TEST_MS,
  );

  test(
    "long ids (user ids of 128 and 35 characters, a 128-character order id) neither squeeze the last error nor make rows tall, at 390 and 1280 px",
    async () => {
      process.env.ORDER_GATES = tempDir();
      const service = await startService({ WORKERS: "2", PROCESS_ORDER_MODULE: GATED, MAX_ATTEMPTS: "1" });
      const longUser = `user-${"x".repeat(123)}`;
      const longOrder = `gated-${"o".repeat(122)}`;
      const orders = [
        order("gated-ids-1"),
        order("gated-ids-35", { user_id: "u".repeat(35) }),
        order("gated-ids-128", { user_id: longUser }),
        order(longOrder),
      ];
      for (const body of orders) expect((await call(service.url, "POST", "/orders", body)).status).toBe(201);
      // The last error keeps room for a short message on a line: about 14 characters at 390 px
      // (where the table scrolls sideways inside its card), about 30 at 1280 px. It had 79 px with
      // a 35-character user id and 52 px with a 128-character one, at either width.
      for (const [width, minErrorWidth] of [
        [390, 120],
        [1280, 250],
      ] as const) {
        const { page, foreign, errors, refused, close } = await openDashboard(service, {
          width,
          height: 844,
        });
        try {
          await page.waitForFunction(
            (n) => (globalThis as any).document.querySelectorAll("#failures tr").length === n,
            orders.length,
            { timeout: STEP_MS },
          );
          const layout = await page.evaluate(() => {
            const d = (globalThis as any).document;
            const box = (el: any) => el.getBoundingClientRect();
            return {
              rows: [...d.querySelectorAll("#failures tr")].map((tr: any) => ({
                id: tr.dataset.orderId,
                height: box(tr).height,
                errorWidth: box(tr.querySelector(".col-error")).width,
              })),
              cells: [...d.querySelectorAll("#failures .col-order, #failures .col-user")].map((td: any) => {
                const head = td.querySelector(".id-head") ?? td;
                const tail = td.querySelector(".id-tail");
                return {
                  text: td.textContent,
                  title: td.title,
                  cut: head.scrollWidth > head.clientWidth,
                  endShown: tail !== null && box(tail).right <= box(td).right,
                };
              }),
              scrollWidth: d.documentElement.scrollWidth,
              innerWidth: (globalThis as any).innerWidth,
            };
          });
          // At most a two-line error or the Retry button, plus padding: 60 px (they were up to 1,441).
          const tall = layout.rows.filter((row) => row.height > 60);
          expect({ width, tall }).toEqual({ width, tall: [] });
          const narrow = layout.rows.filter((row) => row.errorWidth < minErrorWidth);
          expect({ width, narrow }).toEqual({ width, narrow: [] });
          // Long ids are cut in the middle, their end shown, whole in the text and the title; short
          // ones are shown whole.
          for (const id of [longUser, longOrder]) {
            expect(layout.cells).toContainEqual({ text: id, title: id, cut: true, endShown: true });
          }
          expect(layout.cells).toContainEqual({
            text: "user_123",
            title: "user_123",
            cut: false,
            endShown: true,
          });
          expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
          expect(await page.locator(`#failures tr[data-order-id="gated-ids-128"]`).textContent()).toContain(
            "gate closed",
          );
          expect(foreign).toEqual([]);
          expect(errors).toEqual([]);
          expect(refused).toEqual([]);
        } finally {
          await close();
        }
      }
    },
    TEST_MS,
  );
});
