/**
 * `bun bench/fixed-rate-ab.ts <checkout A> <checkout B> [rate] [rounds]`: CPU per order of two
 * checkouts at a fixed arrival rate, for a "no regression" claim on a machine too noisy for
 * full-speed A/B (bench/ab.ts). k6 posts seed-shaped orders at `rate` per second for 20 s
 * (`SCENARIO=soak`, processing instant) to each checkout in turn, A, B, then B, A …, and waits until
 * every order is completed; the figure is the service's CPU time (every thread, from /proc) divided
 * by its orders. At a fixed rate both sides batch their commits alike, so the CPU per order compares
 * the code, not the machine's mood. Each checkout needs its node_modules (a symlink is fine).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawn } from "bun";
import { k6Binary, ROOT, serviceEnv, startServer, stop } from "./lib.ts";

const [a, b, rateArg, roundsArg] = process.argv.slice(2);
const k6 = k6Binary();
if (!a || !b || !k6) {
  console.error(
    "usage: bun bench/fixed-rate-ab.ts <checkout A> <checkout B> [rate] [rounds] (needs k6: K6=…)",
  );
  process.exit(1);
}
const RATE = rateArg ?? "2000";
const rounds = Number(roundsArg ?? 3);
const sides = { A: resolve(a), B: resolve(b) };
const TMP = mkdtempSync(join(tmpdir(), "orders-fixed-"));

/** CPU seconds of a process (all its threads) so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const perOrder: Record<"A" | "B", number[]> = { A: [], B: [] };
for (let round = 0; round < rounds; round++) {
  for (const side of round % 2 ? (["B", "A"] as const) : (["A", "B"] as const)) {
    const port = 3460;
    const env = serviceEnv(port, join(TMP, `${side}-${round}.db`), { PROCESSING_TIME_MS: "0" });
    const proc = await startServer(["src/main.ts"], env, port, sides[side]);
    const before = cpuSeconds(proc.pid);
    const run = spawn([k6, "run", "--quiet", join(ROOT, "k6/orders.js")], {
      env: { ...process.env, SCENARIO: "soak", RATE, DURATION: "20s", BASE_URL: `http://127.0.0.1:${port}` },
      stdout: "pipe",
      stderr: "pipe",
    });
    const summary = (await new Response(run.stdout).text())
      .split("\n")
      .find((l) => l.startsWith("ORDERS_SUMMARY"));
    if ((await run.exited) !== 0) throw new Error(`k6 failed: ${summary}`);
    const used = cpuSeconds(proc.pid) - before;
    const { total_orders: orders } = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).json()) as {
      total_orders: number;
    };
    await stop(proc);
    perOrder[side].push((used * 1e6) / orders);
    console.log(
      `round ${round + 1} ${side}: ${orders} orders, ${((used * 1e6) / orders).toFixed(1)} µs CPU per order`,
    );
  }
}
const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const [ma, mb] = [median(perOrder.A), median(perOrder.B)];
console.log(`medians: A ${ma.toFixed(1)} µs, B ${mb.toFixed(1)} µs per order; B / A ${(mb / ma).toFixed(3)}`);
