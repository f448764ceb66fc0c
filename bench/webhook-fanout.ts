/**
 * `bun bench/webhook-fanout.ts [--quick]`: what each webhook subscription costs intake. Every order
 * event becomes one delivery row per matching subscription, in the event's own transaction (the
 * outbox trigger), and the sender then posts each one. The service on SQLite (the default), N
 * subscriptions to every event (N = 0, 1, 10, 100 = the default MAX_WEBHOOKS), then POST /orders
 * with wrk (64 connections): intake rate, latency, and the cost per order per subscription against
 * N = 0, measured in the same run. Twice: with a local receiver answering 204 at once (the rows
 * and the sending), and with one that holds every request past the load (the rows alone: the
 * sender has WEBHOOK_CONCURRENCY requests in flight and sends nothing more).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { peakRssMb, requireWrk, serviceEnv, startServer, wrk } from "./lib.ts";

const quick = process.argv.includes("--quick");
const SECONDS = quick ? 5 : 15;
const TMP = mkdtempSync(join(tmpdir(), "orders-bench-fanout-"));
requireWrk();

let received = 0;
let holding = false;
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  fetch: async () => {
    received++;
    if (holding) await Bun.sleep((SECONDS + 5) * 1000);
    return new Response(null, { status: 204 });
  },
});

type Row = {
  mode: string;
  subscriptions: number;
  rps: number;
  p50: number;
  p99: number;
  rssMb: number;
  delivered: number;
};
const rows: Row[] = [];
const runs = [0, 1, 10, 100].flatMap((subscriptions) => [
  { subscriptions, hold: false },
  { subscriptions, hold: true },
]);
try {
  for (const { subscriptions, hold } of runs) {
    if (subscriptions === 0 && hold) continue;
    holding = hold;
    const port = 3460;
    const base = `http://127.0.0.1:${port}`;
    const env = serviceEnv(port, join(TMP, `fanout-${subscriptions}-${hold ? "held" : "sent"}.db`), {
      LOG_LEVEL: "warn",
      PROCESSING_TIME_MS: "0",
      WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
      MAX_WEBHOOKS: "100",
    });
    const proc = await startServer(["src/main.ts"], env, port);
    let load: Awaited<ReturnType<typeof wrk>>;
    let rssMb: number;
    try {
      for (let i = 0; i < subscriptions; i++) {
        const answer = await fetch(`${base}/webhooks`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/hook-${i}` }),
        });
        if (answer.status !== 201)
          throw new Error(`subscription ${i}: ${answer.status} ${await answer.text()}`);
      }
      received = 0;
      load = await wrk(base, "post-orders.lua", SECONDS);
      rssMb = peakRssMb(proc.pid);
    } finally {
      // Killed, not stopped: with a full outbox a graceful stop would wait on the deliveries.
      proc.kill("SIGKILL");
      await proc.exited;
    }
    rows.push({
      mode: subscriptions === 0 ? "none" : hold ? "rows only (receiver holds)" : "rows and sending",
      subscriptions,
      rps: load.rps,
      p50: load.p50_ms,
      p99: load.p99_ms,
      rssMb,
      delivered: received,
    });
  }
} finally {
  receiver.stop(true);
  rmSync(TMP, { recursive: true, force: true });
}

const base = rows[0] as Row;
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`;
console.log(
  `Run ${new Date().toISOString()}, ${machine}, SQLite, ${SECONDS} s of POST /orders per row (wrk, 64 connections), instant processing\n\n` +
    "| subscriptions | deliveries | intake/s | p50 ms | p99 ms | peak RSS MB | requests the receiver got | extra µs per order per subscription |\n" +
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n" +
    rows
      .map((r) => {
        const extra =
          r.subscriptions === 0 ? "" : (((1 / r.rps - 1 / base.rps) * 1e6) / r.subscriptions).toFixed(1);
        return `| ${r.subscriptions} | ${r.mode} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.rssMb} | ${r.delivered} | ${extra} |`;
      })
      .join("\n"),
);
