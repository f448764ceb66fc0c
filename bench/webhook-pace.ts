/**
 * `bun bench/webhook-pace.ts [seconds] [rate]`: do webhook deliveries keep pace with intake (issue 21)?
 * On SQLite, with one subscription to every event type and a fast receiver in a process of its
 * own (bench/receiver.ts), every figure from this one run:
 *   1. the delivery reference: a Bun client POSTing signed payloads of the real size to that
 *      receiver, 64 at a time, with no database: the ceiling of deliveries per second;
 *   2. intake at full speed (wrk) without a subscription, and with one;
 *   3. k6 at a constant arrival rate (`rate`, else half the bare intake) for `seconds` (default 60), with the
 *      subscription: deliveries owed and made, the outbox backlog every 5 s, delivery lag (event
 *      committed to received) p50/p99, and CPU per delivery by process (service, receiver, k6).
 * Needs wrk and k6 (K6 or ../shared/tools/k6/k6).
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "bun";
import { signatureHeaders } from "../src/webhooks/signing.ts";
import { cpuWindow } from "./cpu.ts";
import { metrics, ROOT, requireWrk, serviceEnv, startServer, stop, wrk } from "./lib.ts";

requireWrk();
const SECONDS = Number(process.argv[2] ?? 60);
// The k6 rate; unset: half the bare intake measured in this run. A fixed rate compares two checkouts.
const RATE = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const K6 = process.env.K6 ?? join(ROOT, "..", "shared", "tools", "k6", "k6");
if (!existsSync(K6)) throw new Error(`k6 not found at ${K6} (set K6)`);
const TMP = mkdtempSync(join(tmpdir(), "webhook-pace-"));
const RECEIVER_PORT = 3497;
const fmt = (n: number) => Math.round(n).toLocaleString("en");

const receiver = spawn(["bun", "bench/receiver.ts", String(RECEIVER_PORT)], { cwd: ROOT, stdout: "ignore" });
await Bun.sleep(500);
const receiverStats = async () =>
  (await (await fetch(`http://127.0.0.1:${RECEIVER_PORT}/stats`)).json()) as {
    delivered: number;
    lagP50Ms: number;
    lagP99Ms: number;
  };

/** 1. Signed POSTs of a real payload's size straight to the receiver, 64 in flight, for 10 s. */
async function deliveryReference(): Promise<number> {
  const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
  const event = {
    seq: 1,
    order_id: "order_456",
    user_id: "user_123",
    type: "claimed",
    from_status: "pending",
    to_status: "processing",
    attempt: 1,
    at: new Date().toISOString(),
    details: { claimed_by: "a1b2c3d4/w0.1" },
  };
  await receiverStats();
  const stopAt = performance.now() + 10_000;
  let sent = 0;
  const started = performance.now();
  const loop = async () => {
    while (performance.now() < stopAt) {
      const body = JSON.stringify({
        type: "order.claimed",
        timestamp: new Date().toISOString(),
        data: event,
      });
      const headers = signatureHeaders(secret, { id: `msg_${sent}`, timestamp: new Date(), body });
      const answer = await fetch(`http://127.0.0.1:${RECEIVER_PORT}/hook`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      });
      await answer.arrayBuffer();
      sent++;
    }
  };
  await Promise.all(Array.from({ length: 64 }, loop));
  return sent / ((performance.now() - started) / 1000);
}

/** A service on a fresh database, with one all-events subscription when `subscribe`. */
async function service(port: number, name: string, subscribe: boolean) {
  const db = join(TMP, `${name}.db`);
  const proc = await startServer(
    ["src/main.ts"],
    serviceEnv(port, db, {
      WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
      // BENCH_WEBHOOK_CONCURRENCY sets WEBHOOK_CONCURRENCY (default: the service's own).
      ...(process.env.BENCH_WEBHOOK_CONCURRENCY
        ? { WEBHOOK_CONCURRENCY: process.env.BENCH_WEBHOOK_CONCURRENCY }
        : {}),
    }),
    port,
  );
  const url = `http://127.0.0.1:${port}`;
  if (subscribe) {
    const answer = await fetch(`${url}/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: `http://127.0.0.1:${RECEIVER_PORT}/hook` }),
    });
    if (answer.status !== 201) throw new Error(`POST /webhooks answered ${answer.status}`);
  }
  return { proc, url, db };
}

/** 2. Intake at full speed for 20 s, with or without the subscription; deliveries made meanwhile. */
async function intake(subscribe: boolean) {
  const { proc, url } = await service(3496, `intake-${subscribe}`, subscribe);
  await receiverStats();
  const load = await wrk(url, "post-orders.lua", 20);
  const { delivered } = await receiverStats();
  await stop(proc);
  return { rps: load.rps, deliveredPerS: delivered / 20 };
}

/** 3. k6 at `rate` orders/s for SECONDS with the subscription: backlog, lag, CPU per delivery. */
async function paced(rate: number) {
  const { proc, url, db } = await service(3495, "paced", true);
  const outbox = new Database(db, { readonly: true });
  const backlog = () =>
    (
      outbox.query("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'").get() as {
        n: number;
      }
    ).n;
  await receiverStats();
  const k6 = spawn(
    [
      K6,
      "run",
      "--quiet",
      "-e",
      `BASE_URL=${url}`,
      "-e",
      `RATE=${rate}`,
      "-e",
      `DURATION=${SECONDS}s`,
      "k6/pace.js",
    ],
    {
      cwd: ROOT,
      stdout: "ignore",
      stderr: "ignore",
    },
  );
  const cpu = cpuWindow([proc.pid], { receiver: receiver.pid, k6: k6.pid });
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(backlog()), 5000);
  // The window closes just before k6 ends: a process that has exited has no CPU time to read.
  await Bun.sleep((SECONDS - 2) * 1000);
  const use = cpu?.end();
  const { delivered, lagP50Ms, lagP99Ms } = await receiverStats();
  await k6.exited;
  clearInterval(sampler);
  const orders = (await metrics(url)).total_orders;
  await stop(proc);
  outbox.close();
  const perDelivery = (part: string) =>
    Math.round(((use?.cores[part] ?? 0) * 1e6) / Math.max(1, delivered / (use?.seconds ?? 1)));
  return {
    rate,
    orders,
    owed: orders * 3,
    delivered,
    backlog: samples,
    lagP50Ms,
    lagP99Ms,
    cpu: `CPU per delivery: service ${perDelivery("service")} µs, receiver ${perDelivery("receiver")} µs, k6 ${perDelivery("k6")} µs; idle ${(use?.cores.idle ?? 0).toFixed(2)} cores`,
  };
}

try {
  const reference = await deliveryReference();
  console.log(`delivery reference (Bun client, no database, 64 in flight): ${fmt(reference)} deliveries/s`);
  const bare = await intake(false);
  const hooked = await intake(true);
  console.log(`intake without a subscription: ${fmt(bare.rps)} orders/s`);
  console.log(
    `intake with one all-events subscription: ${fmt(hooked.rps)} orders/s (${(hooked.rps / bare.rps).toFixed(2)}x), ${fmt(hooked.deliveredPerS)} deliveries/s meanwhile`,
  );
  const run = await paced(RATE ?? Math.round(bare.rps / 2));
  console.log(
    `k6 at ${fmt(run.rate)} orders/s for ${SECONDS} s: ${fmt(run.orders)} orders, ${fmt(run.owed)} deliveries owed, ${fmt(run.delivered)} made in its first ${SECONDS - 2} s`,
  );
  console.log(`outbox backlog every 5 s: ${run.backlog.map(fmt).join(", ")}`);
  console.log(`delivery lag: p50 ${fmt(run.lagP50Ms)} ms, p99 ${fmt(run.lagP99Ms)} ms`);
  console.log(run.cpu);
} finally {
  receiver.kill();
}
