/**
 * `bun bench/tracing.ts [rounds]` (default 3): what traces cost intake. One checkout, three
 * settings alternated each round: tracing off, on at 10% (parentbased_traceidratio 0.1), on at
 * 100%; spans go over OTLP/HTTP (protobuf, the default) to a sink in a process of its own that
 * reads and drops them. Each run: a fresh SQLite service, wrk POST /orders for 10 s (64
 * connections, post-orders.lua); reports intake and the service's CPU per order (all its threads,
 * from /proc), the medians, and each setting against off. Issue 24's targets: 10% within 5% of
 * off; 100% measured. (Off against the commit before tracing: bun bench/fixed-rate-ab.ts.)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "bun";
import { requireWrk, serviceEnv, startServer, stop, wrk } from "./lib.ts";

const ROUNDS = Number(process.argv[2] ?? 3);
const PORT = 3470;
const SINK_PORT = 3471;
const TMP = mkdtempSync(join(tmpdir(), "orders-tracing-"));

const SETTINGS: Record<string, Record<string, string>> = {
  off: {},
  "10%": {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${SINK_PORT}`,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "0.1",
  },
  "100%": { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${SINK_PORT}` },
};

/** CPU seconds of a process (all its threads) so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

requireWrk();
// The collector stand-in: reads every export and answers 200, in a process of its own.
const sink = spawn(
  [
    "bun",
    "-e",
    `Bun.serve({ port: ${SINK_PORT}, hostname: "127.0.0.1", async fetch(r) { await r.arrayBuffer(); return new Response("{}"); } }); setInterval(() => {}, 1 << 30);`,
  ],
  { stdout: "ignore", stderr: "inherit" },
);
await Bun.sleep(300);

const results: Record<string, { rps: number[]; cpu: number[] }> = {};
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = Object.keys(SETTINGS);
    for (const name of round % 2 ? order.reverse() : order) {
      const env = serviceEnv(PORT, join(TMP, `${name.replace("%", "")}-${round}.db`), {
        ...SETTINGS[name],
        LOG_LEVEL: "warn",
      });
      const proc = await startServer(["src/main.ts"], env, PORT);
      const before = cpuSeconds(proc.pid);
      const load = await wrk(`http://127.0.0.1:${PORT}`, "post-orders.lua", 10);
      const used = cpuSeconds(proc.pid) - before;
      await stop(proc);
      if (load.non_2xx + load.socket_errors > 0)
        throw new Error(`intake had errors: ${JSON.stringify(load)}`);
      const cpu = (used * 1e6) / (load.rps * 10);
      const entry = results[name] ?? { rps: [], cpu: [] };
      entry.rps.push(load.rps);
      entry.cpu.push(cpu);
      results[name] = entry;
      console.log(
        `round ${round + 1} ${name}: ${Math.round(load.rps)} orders/s, ${cpu.toFixed(1)} µs CPU per order`,
      );
    }
  }
} finally {
  sink.kill();
  rmSync(TMP, { recursive: true, force: true });
}
const median = (values: number[]) =>
  [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? Number.NaN;
const off = results.off as { rps: number[]; cpu: number[] };
for (const [name, { rps, cpu }] of Object.entries(results)) {
  console.log(
    `${name}: intake median ${Math.round(median(rps))}/s (${(median(rps) / median(off.rps)).toFixed(3)}× off), CPU per order median ${median(cpu).toFixed(1)} µs (${(median(cpu) / median(off.cpu)).toFixed(3)}× off)`,
  );
}
