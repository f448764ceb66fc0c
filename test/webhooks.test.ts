/**
 * Webhooks through real HTTP against a real local receiver (Bun.serve on 127.0.0.1, allowed by
 * WEBHOOK_ALLOWED_HOSTS): signatures verified with the secret, retries after a 500, a dead delivery
 * and its redelivery, URL validation, and a kill -9 between commit and delivery that still delivers
 * after the restart with the same webhook-id. Real SQLite files (or PostgreSQL with
 * TEST_STORAGE=postgres) and real worker threads.
 */
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { verifySignature } from "../src/webhooks/signing.ts";
import { call, cleanup, order, spawnService, startService, tempDir, waitFor } from "./helpers.ts";

afterEach(cleanup);

type Received = { id: string; headers: Record<string, string>; body: string; payload: any };

/** A real HTTP receiver; `answer` decides each response (by default 200). */
function receiver(
  answer: (received: Received, n: number) => Response | Promise<Response> = () => new Response("ok"),
) {
  const received: Received[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const body = await request.text();
      const headers = Object.fromEntries(request.headers);
      const entry = { id: headers["webhook-id"] ?? "", headers, body, payload: JSON.parse(body) };
      received.push(entry);
      return answer(entry, received.length);
    },
  });
  const url = `http://127.0.0.1:${server.port}/hook`;
  return { server, url, received, stop: () => server.stop(true) };
}

const ALLOW_LOCAL = { WEBHOOK_ALLOWED_HOSTS: "127.0.0.1", WEBHOOK_RETRY_BASE_MS: "20" };

/** Subscribes `url`; returns the id and secret. */
async function subscribe(base: URL, url: string, eventTypes?: string[]) {
  const res = await call(base, "POST", "/webhooks", {
    url,
    ...(eventTypes ? { event_types: eventTypes } : {}),
  });
  expect(res.status).toBe(201);
  return res.body as { id: string; secret: string; url: string; event_types: string[] | null };
}

test("a subscriber gets every event of an order, signed with its secret", async () => {
  const hook = receiver();
  const { url } = await startService(ALLOW_LOCAL);
  const sub = await subscribe(url, hook.url);
  expect(sub.secret).toMatch(/^whsec_/);
  expect(sub.event_types).toBeNull();
  const listed = await call(url, "GET", "/webhooks");
  expect(listed.body.webhooks).toEqual([
    {
      id: sub.id,
      url: hook.url,
      event_types: null,
      created_at: expect.any(String),
      backlog: 0,
      lagging: false,
    },
  ]);

  await call(url, "POST", "/orders", order("w1"));
  await waitFor(() => hook.received.length >= 3, { what: "three deliveries" });
  const types = hook.received.map((r) => r.payload.type).sort();
  expect(types).toEqual(["order.claimed", "order.completed", "order.created"]);
  const verifier = new StandardWebhook(sub.secret.slice("whsec_".length));
  for (const r of hook.received) {
    expect(verifySignature(sub.secret, r.headers, r.body)).toBe(true);
    expect(() => verifier.verify(r.body, r.headers)).not.toThrow();
    expect(verifySignature(sub.secret, r.headers, r.body.replace("w1", "w2"))).toBe(false);
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.payload.data.order_id).toBe("w1");
  }
  // The payload's data is the event as GET /orders/:id/events shows it.
  const events = (await call(url, "GET", "/orders/w1/events")).body.events;
  const completed = hook.received.find((r) => r.payload.type === "order.completed");
  expect(completed?.payload.data).toEqual(events[2]);
  await waitFor(async () => {
    const page = await call(url, "GET", `/webhooks/${sub.id}/deliveries`);
    return (
      page.body.deliveries.length === 3 && page.body.deliveries.every((d: any) => d.status === "delivered")
    );
  });
  hook.stop();
});

test("event_types filters what is sent", async () => {
  const hook = receiver();
  const { url } = await startService(ALLOW_LOCAL);
  await subscribe(url, hook.url, ["completed"]);
  await call(url, "POST", "/orders", order("f1"));
  await waitFor(() => hook.received.length >= 1);
  await Bun.sleep(300);
  expect(hook.received.map((r) => r.payload.type)).toEqual(["order.completed"]);
  hook.stop();
});

test("a 500 is retried with the same webhook-id until a 200", async () => {
  const hook = receiver((_r, n) => new Response("no", { status: n <= 2 ? 500 : 200 }));
  const { url } = await startService(ALLOW_LOCAL);
  const sub = await subscribe(url, hook.url, ["created"]);
  await call(url, "POST", "/orders", order("r1"));
  await waitFor(() => hook.received.length >= 3, { what: "three attempts" });
  expect(new Set(hook.received.map((r) => r.id)).size).toBe(1);
  const [delivery] = (await waitFor(async () => {
    const page = await call(url, "GET", `/webhooks/${sub.id}/deliveries`);
    return page.body.deliveries[0]?.status === "delivered" && page.body.deliveries;
  })) as any[];
  expect(delivery).toMatchObject({ attempts: 3, last_status: 200, last_error: "HTTP 500" });
  hook.stop();
});

test("a dead receiver ends in a dead delivery, visible and redeliverable", async () => {
  let up = false;
  const hook = receiver(() => new Response(up ? "ok" : "down", { status: up ? 200 : 503 }));
  const { url } = await startService({ ...ALLOW_LOCAL, WEBHOOK_MAX_ATTEMPTS: "2" });
  const sub = await subscribe(url, hook.url, ["created"]);
  await call(url, "POST", "/orders", order("d1"));
  const [dead] = (await waitFor(async () => {
    const page = await call(url, "GET", `/webhooks/${sub.id}/deliveries?status=dead`);
    return page.body.deliveries.length > 0 && page.body.deliveries;
  })) as any[];
  expect(dead).toMatchObject({ status: "dead", attempts: 2, last_status: 503, last_error: "HTTP 503" });
  expect(hook.received).toHaveLength(2);

  up = true;
  const again = await call(url, "POST", `/webhooks/${sub.id}/deliveries/${dead.seq}/redeliver`);
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ seq: dead.seq, status: "pending", attempts: 0 });
  await waitFor(async () => {
    const page = await call(url, "GET", `/webhooks/${sub.id}/deliveries`);
    return page.body.deliveries[0]?.status === "delivered";
  });
  expect(hook.received.at(-1)?.id).toBe(hook.received[0]?.id);
  expect((await call(url, "POST", `/webhooks/${sub.id}/deliveries/999999/redeliver`)).body.error.code).toBe(
    "DELIVERY_NOT_FOUND",
  );
  hook.stop();
});

test("target URLs are checked: private and loopback hosts need the allow-list; bad input is a 422", async () => {
  const { url } = await startService();
  const cases: [unknown, string][] = [
    [{ url: "http://127.0.0.1:9/hook" }, "url"],
    [{ url: "http://169.254.169.254/latest/meta-data" }, "url"],
    [{ url: "http://10.1.2.3/hook" }, "url"],
    [{ url: "ftp://example.com/hook" }, "url"],
    [{ url: "http://user:pass@example.com/hook" }, "url"],
    [{ url: "not a url" }, "url"],
    [{ url: "https://8.8.8.8/hook", event_types: ["shipped"] }, "event_types"],
    [{ url: "https://8.8.8.8/hook", extra: 1 }, "extra"],
  ];
  for (const [body, field] of cases) {
    const res = await call(url, "POST", "/webhooks", body);
    expect({ body, status: res.status }).toEqual({ body, status: 422 });
    expect(JSON.stringify(res.body.error)).toContain(field);
  }
  // A public address literal is fine without any allow-list (nothing is sent to it until an event).
  expect((await call(url, "POST", "/webhooks", { url: "https://8.8.8.8/hook" })).status).toBe(201);

  const { url: listed } = await startService({ WEBHOOK_ALLOWED_HOSTS: "hooks.internal.example" });
  const refused = await call(listed, "POST", "/webhooks", { url: "https://8.8.8.8/hook" });
  expect(refused.status).toBe(422);
});

test("deleting a subscription stops its deliveries; unknown ids are 404", async () => {
  const hook = receiver();
  const { url } = await startService(ALLOW_LOCAL);
  const sub = await subscribe(url, hook.url);
  const res = await fetch(new URL(`/webhooks/${sub.id}`, url), { method: "DELETE" });
  expect(res.status).toBe(204);
  await call(url, "POST", "/orders", order("x1"));
  await Bun.sleep(300);
  expect(hook.received).toHaveLength(0);
  expect((await call(url, "DELETE", `/webhooks/${sub.id}`)).body.error.code).toBe("WEBHOOK_NOT_FOUND");
  expect((await call(url, "GET", `/webhooks/${sub.id}/deliveries`)).body.error.code).toBe(
    "WEBHOOK_NOT_FOUND",
  );
  hook.stop();
});

test("kill -9 between commit and delivery: delivered after the restart, with the same webhook-id", async () => {
  let answering = false;
  const hook = receiver(async () => {
    while (!answering) await Bun.sleep(20);
    return new Response("ok");
  });
  const db = join(tempDir(), "orders.db");
  const env = { ...ALLOW_LOCAL, DATABASE_PATH: db, WEBHOOK_TIMEOUT_MS: "30000" };
  const first = await spawnService(env);
  const sub = await subscribe(first.url, hook.url, ["created"]);
  await call(first.url, "POST", "/orders", order("k1"));
  // The delivery is in flight: the receiver has it but has not answered.
  await waitFor(() => hook.received.length >= 1, { what: "the first attempt" });
  first.proc.kill("SIGKILL");
  await first.proc.exited;

  answering = true;
  const second = await spawnService(env);
  await waitFor(() => hook.received.length >= 2, { what: "the delivery after the restart" });
  expect(hook.received[1]?.id).toBe(hook.received[0]?.id);
  await waitFor(async () => {
    const page = await call(second.url, "GET", `/webhooks/${sub.id}/deliveries`);
    return page.body.deliveries[0]?.status === "delivered";
  });
  second.proc.kill("SIGTERM");
  await second.proc.exited;
  hook.stop();
});

test("MAX_WEBHOOKS bounds the subscriptions of the service: past it, 422 WEBHOOK_LIMIT_REACHED", async () => {
  const { url } = await startService({ ...ALLOW_LOCAL, MAX_WEBHOOKS: "3" });
  const subscribe = (i: number) =>
    call(url, "POST", "/webhooks", { url: `http://127.0.0.1:9/hook-${i}` }).then((r) => r.status);
  // Eight at once: exactly three are created.
  const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => subscribe(i)));
  expect(statuses.filter((s) => s === 201)).toHaveLength(3);
  const refused = await call(url, "POST", "/webhooks", { url: "http://127.0.0.1:9/one-more" });
  expect(refused.status).toBe(422);
  expect(refused.body.error.code).toBe("WEBHOOK_LIMIT_REACHED");
  expect(refused.body.error.message).toContain("MAX_WEBHOOKS");
  // Deleting one makes room for one.
  const [first] = (await call(url, "GET", "/webhooks")).body.webhooks;
  expect((await call(url, "DELETE", `/webhooks/${first.id}`)).status).toBe(204);
  expect(await subscribe(99)).toBe(201);
  expect(await subscribe(100)).toBe(422);
});

test("GET /webhooks is paged like the other listings: limit, cursor, next_cursor; strict query", async () => {
  const { url } = await startService(ALLOW_LOCAL);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++)
    ids.push((await call(url, "POST", "/webhooks", { url: `http://127.0.0.1:9/page-${i}` })).body.id);
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = cursor === null ? "?limit=2" : `?limit=2&cursor=${cursor}`;
    const page = await call(url, "GET", `/webhooks${query}`);
    expect(page.status).toBe(200);
    expect(page.body.webhooks.length).toBeLessThanOrEqual(2);
    seen.push(...page.body.webhooks.map((w: { id: string }) => w.id));
    cursor = page.body.next_cursor;
    pages++;
  } while (cursor !== null);
  expect(pages).toBe(3);
  expect(seen.sort()).toEqual([...ids].sort());
  expect((await call(url, "GET", "/webhooks")).body.webhooks).toHaveLength(5);
  for (const bad of [
    "limit=0",
    "limit=101",
    "limit=1e2",
    "limit=0x10",
    "limit=1.0",
    "limit=%2B2",
    "limit=%202",
    "cursor=nope",
    "limit=2&limit=3",
    "other=1",
  ]) {
    const answer = await call(url, "GET", `/webhooks?${bad}`);
    expect([bad, answer.status, answer.body.error.code]).toEqual([bad, 422, "VALIDATION_FAILED"]);
  }
  expect((await call(url, "GET", "/webhooks?cursor=%FF")).body.error.code).toBe("INVALID_QUERY");
});

test("GET /webhooks/:id/deliveries?limit= takes decimal digits only, as GET /orders does", async () => {
  const { url } = await startService(ALLOW_LOCAL);
  const { id } = (await call(url, "POST", "/webhooks", { url: "http://127.0.0.1:9/deliveries" })).body;
  expect((await call(url, "GET", `/webhooks/${id}/deliveries?limit=2`)).status).toBe(200);
  for (const bad of ["1e2", "0x10", "1.0", "%2B2", "%202"]) {
    const answer = await call(url, "GET", `/webhooks/${id}/deliveries?limit=${bad}`);
    expect([bad, answer.status]).toEqual([bad, 422]);
    expect(answer.body.error.details[0].field).toBe("limit");
  }
});

test("a receiver that cannot keep up shows in /metrics and GET /webhooks: its backlog, lagging", async () => {
  let up = false;
  const slow = receiver(() => new Response(up ? "ok" : "down", { status: up ? 200 : 503 }));
  const fast = receiver();
  const { url } = await startService({
    ...ALLOW_LOCAL,
    WEBHOOK_RETRY_BASE_MS: "60000",
    WEBHOOK_LAGGING_AFTER_MS: "300",
  });
  const lagging = await subscribe(url, slow.url, ["created"]);
  const keeping = await subscribe(url, fast.url, ["created"]);
  for (const id of ["m1", "m2", "m3"]) await call(url, "POST", "/orders", order(id));
  await waitFor(() => slow.received.length >= 3 && fast.received.length >= 3);
  /** The value of `name` for subscription `id` in the Prometheus text. */
  const gauge = async (name: string, id: string) => {
    const text = (await (await fetch(new URL("/metrics?format=prometheus", url))).text()) as string;
    const line = text.split("\n").find((l) => l.startsWith(`${name}{webhook_id="${id}"}`));
    return line === undefined ? undefined : Number(line.split(" ").pop());
  };
  // Each failed and waits up to a minute for its retry: three pending.
  await waitFor(async () => (await gauge("webhook_backlog", lagging.id)) === 3);
  // The fast one's are delivered: once their outcomes are recorded, it has no series.
  await waitFor(async () => (await gauge("webhook_backlog", keeping.id)) === undefined);
  const age = await gauge("webhook_backlog_oldest_seconds", lagging.id);
  expect(age).toBeGreaterThanOrEqual(0);
  expect(age).toBeLessThan(60);
  // Past WEBHOOK_LAGGING_AFTER_MS the listing says it lags; the fast one does not.
  const listed = async () =>
    Object.fromEntries(((await call(url, "GET", "/webhooks")).body.webhooks as any[]).map((w) => [w.id, w]));
  await waitFor(async () => (await listed())[lagging.id]?.lagging === true);
  const now = await listed();
  expect(now[lagging.id]).toMatchObject({ backlog: 3, lagging: true });
  expect(now[keeping.id]).toMatchObject({ backlog: 0, lagging: false });
  up = true;
  slow.stop();
  fast.stop();
});
