/**
 * `bun [--cpu-prof-md] bench/sender-drain.ts [deliveries]`: the webhook sender's own cost, on the
 * main thread so that Bun's profiler sees it. Fills a SQLite outbox with `deliveries` (one
 * subscription, orders created through the writer thread), then runs the sender exactly as its
 * thread does (the port the adapter opens for it, the deliverer, the signed attempts) against
 * bench/receiver.ts in a process of its own, and reports deliveries per second and this process's
 * CPU per delivery (the writer thread included).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "bun";
import { openSqliteStorage } from "../src/db/sqlite/storage.ts";
import { created, restarted } from "../src/lifecycle.ts";
import { deliveryAttempts } from "../src/webhooks/attempt.ts";
import { WebhookDeliverer } from "../src/webhooks/deliverer.ts";
import type { OpenWebhookStore } from "../src/webhooks/store.ts";
import { urlPolicy } from "../src/webhooks/url-policy.ts";
import { ROOT } from "./lib.ts";

const DELIVERIES = Number(process.argv[2] ?? 60_000);
const PORT = 3493;
const receiver = spawn(["bun", "bench/receiver.ts", String(PORT)], { cwd: ROOT, stdout: "ignore" });
await Bun.sleep(400);

const storage = await openSqliteStorage(
  {
    path: join(mkdtempSync(join(tmpdir(), "sender-drain-")), "orders.db"),
    synchronous: "FULL",
    restarted: restarted(),
  },
  { log: () => {}, onFatal: (reason) => console.error(reason) },
);
const url = `http://127.0.0.1:${PORT}/hook`;
await storage.webhooks.createWebhook(
  { id: "w", url, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", eventTypes: null, createdAt: Date.now() },
  10,
);
for (let i = 0; i < DELIVERIES; i += 1000) {
  await Promise.all(
    Array.from({ length: Math.min(1000, DELIVERIES - i) }, (_, j) =>
      storage.orders.createOrder(
        {
          orderId: `o-${i + j}`,
          userId: "u",
          itemIds: ["a"],
          currency: "USD",
          totalMinor: 100,
          cart: null,
          createdAt: Date.now(),
        },
        created(),
      ),
    ),
  );
}
const opener = storage.webhooksForThread();
const { openWebhookStore } = (await import(opener.module)) as { openWebhookStore: OpenWebhookStore };
const { store: raw } = await openWebhookStore(opener.args, (m, e) => console.error(m, e));
const timing: Record<string, { calls: number; ms: number; items: number }> = {};
function timed(name: string) {
  timing[name] ??= { calls: 0, ms: 0, items: 0 };
  return timing[name];
}
const store = Object.fromEntries(
  Object.entries(raw).map(([name, fn]) => [
    name,
    async (...args: unknown[]) => {
      const t = performance.now();
      const result = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      const entry = timed(name);
      entry.calls++;
      entry.ms += performance.now() - t;
      if (Array.isArray(result)) entry.items += result.length;
      else if (Array.isArray(args[0])) entry.items += args[0].length;
      return result;
    },
  ]),
) as unknown as typeof raw;
const attempt = deliveryAttempts({ timeoutMs: 5000, policy: urlPolicy(["127.0.0.1"]), now: Date.now });
const concurrency = Number(process.env.WEBHOOK_CONCURRENCY ?? 64);
const deliverer = new WebhookDeliverer({
  store,
  onEvents: () => () => {},
  now: Date.now,
  owner: "drain",
  send: async (delivery) => {
    const t = performance.now();
    const result = await attempt(delivery);
    const entry = timed("send");
    entry.calls++;
    entry.ms += performance.now() - t;
    return result;
  },
  maxAttempts: 8,
  retryBaseMs: 1000,
  concurrency,
  perSubscription: Number(process.env.WEBHOOK_SUBSCRIPTION_CONCURRENCY ?? concurrency),
  leaseMs: 30_000,
  log: (level, message, extra) => console.error(level, message, extra),
});
deliverer.subscriptionsChanged();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
deliverer.start();
for (;;) {
  await Bun.sleep(100);
  // The earliest pending delivery off the due index (backlogs() would count them all).
  if ((await storage.webhooks.nextDeliveryAt()) === null) break;
}
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(
  `${DELIVERIES} deliveries in ${seconds.toFixed(2)} s: ${Math.round(DELIVERIES / seconds)}/s; ` +
    `this process ${((cpu.user + cpu.system) / DELIVERIES).toFixed(1)} µs CPU per delivery (concurrency ${concurrency})`,
);
console.table(timing);
await deliverer.stop(1000);
await storage.close();
receiver.kill();
process.exit(0);
