/**
 * `bun run bench -- --backend postgres [--replicas N] [--quick]`: the service on PostgreSQL beside
 * the database's own ceilings, measured in the same run on the same schema: pgbench inserting one
 * order per transaction from 32 clients (a design that commits each request on its own), and 32
 * orders per transaction from 8 clients (the database's batched ceiling). Then intake (with the
 * CPU each part of the machine spent per order), intake with the workers held, end to end, the
 * 1,000-burst, and intake with 1,000,000 orders stored while paced readers poll /orders/:id/status
 * and /metrics, through HTTP, with N replicas (each its own process, the load split evenly).
 * Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL): a server the bench may create databases on.
 * Prints one table and writes bench/results/postgres.{md,json}.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { spawnSync } from "bun";
import pg from "pg";
import { type CpuUse, cpuWindow, perOrder } from "./cpu.ts";
import {
  freshDatabase,
  metrics,
  requireWrk,
  runBurst,
  serviceEnv,
  startServer,
  stop,
  type Wrk,
  wrk,
} from "./lib.ts";

const quick = process.argv.includes("--quick");
const SECONDS = quick ? 5 : 20;
const PRELOAD = quick ? 100_000 : 1_000_000;
const replicasArg = process.argv.indexOf("--replicas");
const REPLICAS = replicasArg >= 0 ? Number(process.argv[replicasArg + 1] ?? 1) : 1;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const TMP = mkdtempSync(join(tmpdir(), "orders-bench-pg-"));
type Row = { scenario: string; value: number; unit: string; p50?: number; p99?: number; note?: string };
const rows: Row[] = [];

/** A fresh database (migrated by a short-lived service start where the scenario needs it). */
const freshDb = (tag: string) => freshDatabase(ADMIN_URL as string, `bench_${tag}`);

/** pgbench with `script` (run `-c clients -j 2` for SECONDS); its tps. */
function pgbench(url: string, script: string, clients: number): number {
  const file = join(TMP, `pgbench-${clients}.sql`);
  writeFileSync(file, script);
  const out = spawnSync([
    "pgbench",
    "-n",
    "-c",
    String(clients),
    "-j",
    "2",
    "-T",
    String(SECONDS),
    "-f",
    file,
    url,
  ]);
  const text = out.stdout.toString();
  const match = text.match(/tps = ([\d.]+)/);
  if (!match) throw new Error(`pgbench printed no tps:\n${text}\n${out.stderr.toString()}`);
  return Number(match[1]);
}

const ORDER_VALUES = `gen_random_uuid()::text, 'user_1', '["item_1","item_2"]', 15099, 'pending', now(), now()`;
const COLUMNS = "(order_id, user_id, item_ids, total_minor, status, created_at, run_at)";

/** Starts REPLICAS services on one database; their base URLs and processes. */
async function startReplicas(url: string, extra: Record<string, string> = {}) {
  const started: { url: string; proc: Awaited<ReturnType<typeof startServer>> }[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    const port = 3430 + i;
    const env = serviceEnv(port, join(TMP, "unused.db"), { DATABASE_URL: url, ...extra });
    started.push({ url: `http://127.0.0.1:${port}`, proc: await startServer(["src/main.ts"], env, port) });
  }
  return started;
}

/**
 * The intake load split over the replicas (64 connections in all; two wrk threads for one replica,
 * one per replica for several, so two replicas get the same two threads as one); summed rate,
 * worst p99, and where the CPU went over the middle half.
 */
async function load(services: { url: string; proc: { pid: number } }[]): Promise<Wrk & { cpu?: CpuUse }> {
  const each = Math.max(1, Math.floor(64 / services.length));
  const threads = services.length > 1 ? 1 : 2;
  let window: ReturnType<typeof cpuWindow>;
  let cpu: CpuUse | undefined;
  const timers = [
    setTimeout(() => (window = cpuWindow(services.map((s) => s.proc.pid))), (SECONDS * 1000) / 4),
    setTimeout(() => (cpu = window?.end()), (SECONDS * 3000) / 4),
  ];
  const results = await Promise.all(
    services.map((s) => wrk(s.url, "post-orders.lua", SECONDS, each, {}, threads)),
  );
  for (const timer of timers) clearTimeout(timer);
  return {
    cpu,
    rps: results.reduce((sum, r) => sum + r.rps, 0),
    p50_ms: Math.max(...results.map((r) => r.p50_ms)),
    p95_ms: Math.max(...results.map((r) => r.p95_ms)),
    p99_ms: Math.max(...results.map((r) => r.p99_ms)),
    non_2xx: results.reduce((sum, r) => sum + r.non_2xx, 0),
    socket_errors: results.reduce((sum, r) => sum + r.socket_errors, 0),
  };
}

async function main(): Promise<void> {
  if (!ADMIN_URL) {
    console.error(
      "set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL server the bench may create databases on",
    );
    process.exit(1);
  }
  requireWrk();
  const n = `${REPLICAS} replica${REPLICAS > 1 ? "s" : ""}`;

  // References on the service's own schema (indexes and count triggers), migrated by a first start.
  const refUrl = await freshDb("ref");
  for (const service of await startReplicas(refUrl)) await stop(service.proc);
  const single = pgbench(refUrl, `INSERT INTO orders ${COLUMNS} VALUES (${ORDER_VALUES});\n`, 32);
  rows.push({
    scenario: "reference: pgbench, 1 order per transaction, 32 clients",
    value: single,
    unit: "orders/s",
  });
  const batched =
    32 *
    pgbench(refUrl, `INSERT INTO orders ${COLUMNS} SELECT ${ORDER_VALUES} FROM generate_series(1, 32);\n`, 8);
  rows.push({
    scenario: "reference: pgbench, 32 orders per transaction, 8 clients",
    value: batched,
    unit: "orders/s",
  });

  // Intake.
  let services = await startReplicas(await freshDb("intake"));
  const intake = await load(services);
  for (const s of services) await stop(s.proc);
  rows.push({
    scenario: `intake: POST /orders, ${n}, 64 connections`,
    value: intake.rps,
    unit: "orders/s",
    p50: intake.p50_ms,
    p99: intake.p99_ms,
    note: `${(intake.rps / single).toFixed(2)}× single, ${(intake.rps / batched).toFixed(2)}× batched; errors ${intake.non_2xx + intake.socket_errors}`,
  });
  if (intake.cpu) {
    rows.push({
      scenario: `intake: CPU per order, ${n} (the budget: ${cpus().length} cores at 0.25× batched)`,
      value: (cpus().length * 1e6) / (0.25 * batched),
      unit: "µs/order budget",
      note: perOrder(intake.cpu, intake.rps),
    });
  }

  // Intake again with the workers held (one slot each, busy for minutes): the same load without
  // the processing that runs beside it, so replicas compare on the same work (each replica
  // processes its own share of the orders during the load above).
  services = await startReplicas(await freshDb("held"), {
    WORKER_CONCURRENCY: "1",
    PROCESSING_TIME_MS: "600000",
  });
  const held = await load(services);
  for (const s of services) await stop(s.proc);
  rows.push({
    scenario: `intake with the workers held (no processing beside it), ${n}`,
    value: held.rps,
    unit: "orders/s",
    p50: held.p50_ms,
    p99: held.p99_ms,
    note: held.cpu ? perOrder(held.cpu, held.rps) : "",
  });

  // End to end with instant processing.
  services = await startReplicas(await freshDb("e2e"), { PROCESSING_TIME_MS: "0" });
  const started = performance.now();
  const e2eLoad = await load(services);
  let m = await metrics(services[0]?.url as string);
  while (m.status_counts.completed !== m.total_orders && performance.now() - started < 600_000) {
    await Bun.sleep(50);
    m = await metrics(services[0]?.url as string);
  }
  const e2eRate = (m.status_counts.completed ?? 0) / ((performance.now() - started) / 1000);
  for (const s of services) await stop(s.proc);
  rows.push({
    scenario: `end-to-end: ${m.total_orders.toLocaleString("en")} orders, all completed, ${n}, PROCESSING_TIME_MS=0`,
    value: e2eRate,
    unit: "orders/s completed",
    p99: e2eLoad.p99_ms,
  });

  // The 1,000-burst, against the first replica (the others claim too).
  services = await startReplicas(await freshDb("burst"), { PROCESSING_TIME_MS: "0" });
  const burst = await runBurst(services[0]?.url as string);
  for (const s of services) await stop(s.proc);
  rows.push({
    scenario: `burst: ${burst.accepted}/1000 concurrent POSTs accepted, ${n}`,
    value: burst.accepted_ms,
    unit: "ms wall",
  });
  rows.push({ scenario: `burst: all 1,000 completed, ${n}`, value: burst.completed_ms, unit: "ms wall" });

  // Scale: PRELOAD orders already stored (one INSERT … SELECT; the count triggers see it like any
  // insert), then intake with paced readers of /orders/:id/status and /metrics beside it, as in the
  // SQLite bench: /metrics sums the counter shards, whatever the number of rows.
  const bigUrl = await freshDb("scale");
  for (const service of await startReplicas(bigUrl)) await stop(service.proc);
  const admin = new pg.Client({ connectionString: bigUrl });
  await admin.connect();
  await admin.query(
    `INSERT INTO orders (order_id, user_id, item_ids, total_minor, status, created_at, run_at, started_at, completed_at, attempts)
     SELECT 'pre-' || g, 'user_' || (g % 1000), '["item_1"]', 15099, 'completed', now(), now(), now(), now(), 1
     FROM generate_series(0, ${PRELOAD - 1}) AS g`,
  );
  await admin.query("VACUUM ANALYZE orders");
  await admin.end();
  services = await startReplicas(bigUrl);
  const readerEnv = { PRELOADED: String(PRELOAD), PAUSE_MS: "1" };
  const reader = services[0]?.url as string;
  // First alone: what reading the counts costs at this size, with nothing else running.
  const metricsAlone = await wrk(
    reader,
    "get-status.lua",
    SECONDS,
    4,
    { ...readerEnv, PATH_KIND: "metrics" },
    1,
  );
  const [bigIntake, status, metricsRead] = await Promise.all([
    load(services),
    wrk(reader, "get-status.lua", SECONDS, 4, readerEnv, 1),
    wrk(reader, "get-status.lua", SECONDS, 4, { ...readerEnv, PATH_KIND: "metrics" }, 1),
  ]);
  for (const s of services) await stop(s.proc);
  const stored = PRELOAD.toLocaleString("en");
  rows.push({
    scenario: `scale: intake with ${stored} orders stored (+ readers below), ${n}`,
    value: bigIntake.rps,
    unit: "orders/s",
    p50: bigIntake.p50_ms,
    p99: bigIntake.p99_ms,
    note: `${(bigIntake.rps / intake.rps).toFixed(2)}× intake`,
  });
  rows.push({
    scenario: `scale: GET /metrics with ${stored} orders stored, nothing else running (4 connections, 1 ms pauses)`,
    value: metricsAlone.rps,
    unit: "req/s",
    p50: metricsAlone.p50_ms,
    p99: metricsAlone.p99_ms,
    note: "target p99 < 5 ms",
  });
  rows.push({
    scenario: "scale: GET /orders/:id/status under that load (4 connections, 1 ms pauses)",
    value: status.rps,
    unit: "req/s",
    p50: status.p50_ms,
    p99: status.p99_ms,
  });
  rows.push({
    scenario: "scale: GET /metrics under that load (4 connections, 1 ms pauses)",
    value: metricsRead.rps,
    unit: "req/s",
    p50: metricsRead.p50_ms,
    p99: metricsRead.p99_ms,
  });
}

try {
  await main();
} finally {
  rmSync(TMP, { recursive: true, force: true });
}
const fmt = (v: number | undefined, d = 2) =>
  v === undefined ? "" : v.toLocaleString("en", { maximumFractionDigits: d });
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`;
const table = `Run ${new Date().toISOString()} (PostgreSQL, ${REPLICAS} replica(s), ${SECONDS} s per load), ${machine}\n\n| scenario | value | unit | p50 ms | p99 ms | note |\n| --- | ---: | --- | ---: | ---: | --- |\n${rows.map((r) => `| ${r.scenario} | ${fmt(r.value, 0)} | ${r.unit} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.note ?? ""} |`).join("\n")}\n`;
console.log(`\n${table}`);
mkdirSync(join(import.meta.dir, "results"), { recursive: true });
writeFileSync(join(import.meta.dir, "results", "postgres.md"), table);
writeFileSync(
  join(import.meta.dir, "results", "postgres.json"),
  `${JSON.stringify({ quick, replicas: REPLICAS, rows }, null, 2)}\n`,
);
