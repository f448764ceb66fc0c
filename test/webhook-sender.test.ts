/**
 * The webhook sender on its thread, for real (a real service, real SQLite files or PostgreSQL with
 * TEST_STORAGE=postgres, real receivers on 127.0.0.1): a thread that dies is replaced and what it
 * held is delivered after its lease, with the same webhook-id; and a receiver that never answers
 * holds no more than WEBHOOK_SUBSCRIPTION_CONCURRENCY attempts, while a fast one beside it gets
 * every delivery.
 */
import { afterEach, expect, test } from "bun:test";
import { call, cleanup, order, startService, waitFor } from "./helpers.ts";

afterEach(cleanup);

/** A receiver that answers each request when `answer` resolves; counts what is in flight. */
function receiver(answer: () => Promise<void> = async () => {}) {
  const ids: string[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      await request.text();
      ids.push(request.headers.get("webhook-id") ?? "");
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        await answer();
      } finally {
        inFlight--;
      }
      return new Response("ok");
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/hook`,
    ids,
    mostInFlight: () => mostInFlight,
    stop: () => server.stop(true),
  };
}

async function subscribe(base: URL, url: string) {
  const res = await call(base, "POST", "/webhooks", { url });
  expect(res.status).toBe(201);
}

test("a sender thread that dies is replaced; what it held is delivered after its lease, same webhook-id", async () => {
  let first = true;
  const hook = receiver(async () => {
    // The first attempt hangs until the thread that made it is gone.
    if (first) {
      first = false;
      await Bun.sleep(3000);
    }
  });
  const { server, url } = await startService({ WEBHOOK_ALLOWED_HOSTS: "127.0.0.1", LEASE_MS: "600" });
  await subscribe(url, hook.url);
  await call(url, "POST", "/orders", order("dies-1"));
  await waitFor(() => hook.ids.length >= 1, { what: "the first attempt" });
  const held = hook.ids[0];
  server.sender.kill();
  await waitFor(() => new Set(hook.ids).size >= 3 && hook.ids.filter((id) => id === held).length >= 2, {
    what: "the held delivery sent again and every event delivered",
    timeoutMs: 10_000,
  });
  hook.stop();
});

test("a receiver that never answers holds its bound of attempts; a fast one beside it gets every delivery", async () => {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const stuck = receiver(() => released);
  const fast = receiver();
  const { url } = await startService({
    WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
    WEBHOOK_CONCURRENCY: "4",
    WEBHOOK_SUBSCRIPTION_CONCURRENCY: "2",
    WEBHOOK_TIMEOUT_MS: "30000",
  });
  await subscribe(url, stuck.url);
  await subscribe(url, fast.url);
  for (let i = 0; i < 20; i++) await call(url, "POST", "/orders", order(`bound-${i}`));
  // 20 orders, 3 events each.
  await waitFor(() => fast.ids.length >= 60, {
    what: "every delivery to the fast receiver",
    timeoutMs: 10_000,
  });
  expect(stuck.mostInFlight()).toBe(2);
  release();
  await waitFor(() => stuck.ids.length >= 60, { what: "the stuck receiver's deliveries once it answers" });
  expect(stuck.mostInFlight()).toBe(2);
  stuck.stop();
  fast.stop();
});
