/**
 * `bun run bench [-- --quick]`: starts the real service (and reference servers) as child processes
 * on temp databases and drives them with wrk from a separate process. Prints one table and writes it
 * to bench/results/latest.{json,md}. Not a test: nothing here runs in `bun test`.
 *
 * Scenarios (64 connections, SQLITE_SYNCHRONOUS=FULL unless named):
 *   reference: validate-only   the same Elysia route and body schema, no database
 *   reference: naive           one FULL commit per request (the replaced design's shape)
 *   intake                     POST /orders on the service, default settings
 *   end-to-end                 PROCESSING_TIME_MS=0: POST for a while, then until all are completed
 *   burst                      1,000 concurrent POSTs, then until all are completed
 *   listing flood              512 clients listing 500 orders each; /health and POSTs alongside
 *   scale                      intake and GET p99s with 1,000,000 orders already stored (paced readers)
 *   webhooks                   intake with one subscription to a fast local receiver (every event sent)
 *   k6 long-poll vs poll       the 1,000-order k6 burst, requests needed to see every order complete
 *   dashboards                 intake with ten dashboards polling /dashboard/data each second, against
 *                              none, alternated three times on one service
 *   realistic (SQLite, and PostgreSQL when BENCH_DATABASE_URL is set; realistic.ts)
 *                              API keys, access log, one all-events subscription to a fast receiver,
 *                              ten dashboards and a Prometheus-like scraper: intake at full speed, end
 *                              to end (completed and its 3 events received), CPU per order by part,
 *                              delivery lag at half the end-to-end rate
 *   webhook pace               k6 at half the bare intake, one all-events subscription: backlog, lag
 *   beside slow and dead       a fast receiver's deliveries alone and beside a slow and a dead one
 *
 * `--soak [minutes]`: the realistic mix at half its end-to-end capacity for that long (soak.ts).
 * `--pgbouncer`: PostgreSQL intake direct and through PgBouncer in transaction mode (pgbouncer.ts).
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { spawnSync } from "bun";
import {
  k6Binary,
  peakRssMb,
  ROOT,
  type Row,
  requireWrk,
  runBurst,
  runEndToEnd,
  runIntake,
  serviceEnv,
  startServer,
  stop,
  type Wrk,
  wrk,
} from "./lib.ts";
import { postgres, sqlite } from "./realistic.ts";
import { paceCheckRow, realisticRows, slowDeadRow } from "./webhook-rows.ts";

// `--backend postgres [--replicas N]`: the PostgreSQL bench (bench/postgres.ts) instead.
const backendArg = process.argv.indexOf("--backend");
if (backendArg >= 0 && process.argv[backendArg + 1] === "postgres") {
  await import("./postgres.ts");
  process.exit(0);
}

// `--pgbouncer`: PostgreSQL intake direct and through PgBouncer (bench/pgbouncer.ts) instead.
if (process.argv.includes("--pgbouncer")) {
  await import("./pgbouncer.ts");
  process.exit(0);
}

// `--soak [minutes]`: the soak (bench/soak.ts) instead.
if (process.argv.includes("--soak")) {
  await import("./soak.ts");
  process.exit(0);
}

const quick = process.argv.includes("--quick");

/** Fills `db` with `count` orders (bench/preload.ts); a failed preload stops the bench, never runs on an empty file. */
function preload(db: string, count: number, stdout: "ignore" | "inherit") {
  const { exitCode } = spawnSync(["bun", "bench/preload.ts", db, String(count)], { cwd: ROOT, stdout });
  if (exitCode !== 0) throw new Error(`bench/preload.ts ${db} ${count} failed (exit ${exitCode})`);
}
const SECONDS = quick ? 5 : 20;
const PRELOAD = quick ? 100_000 : 1_000_000;
const TMP = mkdtempSync(join(tmpdir(), "orders-bench-"));

requireWrk();

const rows: Row[] = [];

/** Runs one reference server under the intake load and records its row. */
async function reference(mode: "validate" | "naive", port: number, scenario: string): Promise<Wrk> {
  const proc = await startServer(
    ["bench/reference-server.ts", mode, String(port), join(TMP, `${mode}.db`)],
    {},
    port,
  );
  const result = await wrk(`http://127.0.0.1:${port}`, "post-orders.lua", SECONDS);
  await stop(proc);
  rows.push({
    scenario,
    value: result.rps,
    unit: "orders/s",
    p50: result.p50_ms,
    p95: result.p95_ms,
    p99: result.p99_ms,
    target: "-",
  });
  return result;
}

async function main() {
  // References, measured in the same run.
  const validate = await reference("validate", 3401, "reference: validate-only, no database");
  const naive = await reference("naive", 3402, "reference: naive, one FULL commit per request");

  // 1, 2, 6: intake with default settings.
  const { load: intake, rssMb: intakeRss } = await runIntake({
    port: 3410,
    db: join(TMP, "intake.db"),
    seconds: SECONDS,
  });
  rows.push({
    scenario: "intake: POST /orders, FULL, 64 connections",
    value: intake.rps,
    unit: "orders/s",
    p50: intake.p50_ms,
    p95: intake.p95_ms,
    p99: intake.p99_ms,
    rss_mb: intakeRss,
    ratio: `${(intake.rps / validate.rps).toFixed(2)}× validate-only, ${(intake.rps / naive.rps).toFixed(1)}× naive`,
    target: "≥ 40,000/s, ≥ 0.5× validate-only, p99 ≤ 10 ms",
  });

  // Intake of orders with ten priced lines (issue 22): the pricing and the larger rows.
  const { load: tenLines } = await runIntake({
    port: 3411,
    db: join(TMP, "lines.db"),
    seconds: SECONDS,
    lines: 10,
  });
  rows.push({
    scenario: "intake: POST /orders with 10 priced lines (EUR, shipping), FULL, 64 connections",
    value: tenLines.rps,
    unit: "orders/s",
    p50: tenLines.p50_ms,
    p95: tenLines.p95_ms,
    p99: tenLines.p99_ms,
    ratio: `${(tenLines.rps / intake.rps).toFixed(2)}× the seed's shape`,
    target: "-",
  });

  // Intake with one webhook subscription: every event (created, claimed, completed) is delivered to
  // a fast receiver on this machine while the load runs.
  const hooks = await webhookIntake();
  rows.push({
    scenario: "webhooks: intake with one subscription to a fast local receiver",
    value: hooks.load.rps,
    unit: "orders/s",
    p50: hooks.load.p50_ms,
    p95: hooks.load.p95_ms,
    p99: hooks.load.p99_ms,
    ratio: `${(hooks.load.rps / intake.rps).toFixed(2)}× intake; ${Math.round(hooks.deliveredPerS).toLocaleString("en")} deliveries/s sent meanwhile`,
    target: "≥ 0.6× intake",
  });

  const dashboards = await dashboardIntake();
  rows.push({
    scenario: "dashboards: intake with 10 dashboards open (each polling /dashboard/data every second)",
    value: dashboards.withTen,
    unit: "orders/s",
    ratio: `${(dashboards.withTen / dashboards.none).toFixed(3)}× with none (${Math.round(dashboards.none).toLocaleString("en")}/s); medians of 3 alternated runs, each on a fresh database`,
    target: "within 3% of none",
  });

  // 3: end to end with instant processing, at the default 32 orders per worker and at 64.
  const oneStep = await endToEnd("32");
  await endToEnd("64");
  // The three-step example (issue 22): each step's completion recorded before the next one runs.
  await endToEnd("32", { module: "examples/three-step.ts", against: oneStep });

  // 4: the burst of 1,000.
  let proc = await startServer(
    ["src/main.ts"],
    serviceEnv(3412, join(TMP, "burst.db"), { PROCESSING_TIME_MS: "0" }),
    3412,
  );
  const burst = await runBurst("http://127.0.0.1:3412");
  await stop(proc);
  rows.push({
    scenario: `burst: ${burst.accepted}/1000 concurrent POSTs accepted`,
    value: burst.accepted_ms,
    unit: "ms wall",
    target: "≤ 100 ms",
  });
  rows.push({
    scenario: "burst: all 1,000 completed",
    value: burst.completed_ms,
    unit: "ms wall",
    target: "≤ 1,000 ms",
  });

  // Listing flood: 512 clients listing 500 orders each; /health and new orders alongside.
  const listDb = join(TMP, "list.db");
  preload(listDb, 5000, "ignore");
  proc = await startServer(["src/main.ts"], serviceEnv(3414, listDb), 3414);
  const listUrl = "http://127.0.0.1:3414";
  const [listings, health, posts] = await Promise.all([
    wrk(listUrl, "get-status.lua", SECONDS, 512, { PATH_KIND: "list" }),
    wrk(listUrl, "get-status.lua", SECONDS, 1, { PATH_KIND: "health" }),
    wrk(listUrl, "post-orders.lua", SECONDS, 8),
  ]);
  await stop(proc);
  rows.push({
    scenario: "listing flood: GET /orders?limit=500, 512 connections (5,000 orders stored)",
    value: listings.rps,
    unit: "req/s",
    p50: listings.p50_ms,
    p99: listings.p99_ms,
    target: "-",
  });
  rows.push({
    scenario: "listing flood: GET /health alongside (1 connection)",
    value: health.rps,
    unit: "req/s",
    p50: health.p50_ms,
    p99: health.p99_ms,
    target: "p99 < 100 ms",
  });
  rows.push({
    scenario: "listing flood: POST /orders alongside (8 connections)",
    value: posts.rps,
    unit: "orders/s",
    p50: posts.p50_ms,
    p99: posts.p99_ms,
    target: "answered",
  });

  // The k6 burst: status requests needed to see 1,000 orders complete, long-poll against polling.
  const longPoll = await k6Burst({ WAIT: "longpoll" }, 3416);
  const polling = await k6Burst({ WAIT: "poll", POLL_INTERVAL_S: "0.1" }, 3417);
  if (longPoll && polling) {
    // 1,000 POSTs and the /ready and /metrics checks of setup() are in both counts.
    rows.push({
      scenario: `k6 burst, WAIT=longpoll: ${longPoll.completed} completed`,
      value: longPoll.requests,
      unit: "requests in all",
      ratio: `${polling.requests.toLocaleString("en")} with WAIT=poll every 0.1 s (${(polling.requests / longPoll.requests).toFixed(1)}×)`,
      target: "far fewer than polling",
    });
  } else {
    console.log("k6 not found (K6, ../shared/tools/k6/k6 or PATH): the long-poll scenario is skipped");
  }

  await webhookScenarios(intake.rps);

  // 5: scale, with the table already large.
  const bigDb = join(TMP, "big.db");
  preload(bigDb, PRELOAD, "inherit");
  proc = await startServer(["src/main.ts"], serviceEnv(3413, bigDb), 3413);
  const bigUrl = "http://127.0.0.1:3413";
  // Readers poll like clients checking on their orders: 4 connections per route, each pausing 1 ms
  // between requests (a few thousand reads/s), rather than a second saturating load on the server.
  const readerEnv = { PRELOADED: String(PRELOAD), PAUSE_MS: "1" };
  const [bigIntake, status, metricsUnderLoad] = await Promise.all([
    wrk(bigUrl, "post-orders.lua", SECONDS, 64),
    wrk(bigUrl, "get-status.lua", SECONDS, 4, readerEnv),
    wrk(bigUrl, "get-status.lua", SECONDS, 4, { ...readerEnv, PATH_KIND: "metrics" }),
  ]);
  const bigRss = peakRssMb(proc.pid);
  await stop(proc);
  rows.push({
    scenario: `scale: intake with ${PRELOAD.toLocaleString("en")} orders stored (+ readers below)`,
    value: bigIntake.rps,
    unit: "orders/s",
    p50: bigIntake.p50_ms,
    p95: bigIntake.p95_ms,
    p99: bigIntake.p99_ms,
    rss_mb: bigRss,
    ratio: `${(bigIntake.rps / intake.rps).toFixed(2)}× intake`,
    target: "within 20% of intake",
  });
  rows.push({
    scenario: "scale: GET /orders/:id/status under that load",
    value: status.rps,
    unit: "req/s",
    p50: status.p50_ms,
    p99: status.p99_ms,
    target: "p99 < 2 ms",
  });
  rows.push({
    scenario: "scale: GET /metrics under that load",
    value: metricsUnderLoad.rps,
    unit: "req/s",
    p50: metricsUnderLoad.p50_ms,
    p99: metricsUnderLoad.p99_ms,
    target: "p99 < 2 ms",
  });
}

/**
 * Issue 21's scenarios (webhook-rows.ts): the realistic mix on each backend, whether deliveries keep
 * pace at half the bare intake (`bareIntake`, the intake row's), and a fast receiver beside a slow
 * and a dead one at half the realistic end-to-end rate on SQLite.
 */
async function webhookScenarios(bareIntake: number) {
  if (!k6Binary()) {
    console.log(
      "k6 not found (K6, ../shared/tools/k6/k6 or PATH): the realistic and pace scenarios are skipped",
    );
    return;
  }
  const durations = { flood: SECONDS, drainLimit: quick ? 120 : 600, paced: quick ? 10 : 30, sampleEvery: 5 };
  const onSqlite = sqlite(TMP);
  const realistic = await realisticRows(onSqlite, bareIntake, durations);
  rows.push(...realistic.rows);
  const adminUrl = process.env.BENCH_DATABASE_URL;
  if (adminUrl) rows.push(...(await realisticRows(postgres(adminUrl), bareIntake, durations)).rows);
  else console.log("BENCH_DATABASE_URL is not set: the realistic scenario on PostgreSQL is skipped");
  rows.push(await paceCheckRow(onSqlite, bareIntake, quick ? 15 : 60, 5));
  rows.push(await slowDeadRow(onSqlite, Math.max(1, Math.round(realistic.endToEnd / 2)), quick ? 10 : 30));
}

/** Intake with one subscription (all event types) to a receiver served by this process. */
async function webhookIntake() {
  let delivered = 0;
  const receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      await request.arrayBuffer();
      delivered++;
      return new Response("ok");
    },
  });
  const port = 3415;
  const proc = await startServer(
    ["src/main.ts"],
    serviceEnv(port, join(TMP, "webhooks.db"), { WEBHOOK_ALLOWED_HOSTS: "127.0.0.1" }),
    port,
  );
  const url = `http://127.0.0.1:${port}`;
  const subscribed = await fetch(`${url}/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/hook` }),
  });
  if (subscribed.status !== 201) throw new Error(`POST /webhooks answered ${subscribed.status}`);
  const load = await wrk(url, "post-orders.lua", SECONDS);
  const deliveredPerS = delivered / SECONDS;
  await stop(proc);
  receiver.stop(true);
  if (load.non_2xx + load.socket_errors > 0)
    throw new Error(`webhook intake had errors: ${JSON.stringify(load)}`);
  return { load, deliveredPerS };
}

/**
 * Intake without and with ten dashboards polling, each run on a fresh service and database (a
 * table grown by the previous run would slow the next one), the order alternated: the medians.
 */
async function dashboardIntake() {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const runs = { none: [] as number[], withTen: [] as number[] };
  const seconds = Math.max(5, SECONDS / 2);
  let n = 0;
  const run = async (dashboards: number) => {
    const port = 3418;
    const url = `http://127.0.0.1:${port}`;
    const proc = await startServer(
      ["src/main.ts"],
      serviceEnv(port, join(TMP, `dashboards-${n++}.db`)),
      port,
    );
    // Pages asking once a second, as dashboard.js does, spread over the second.
    const timers = Array.from({ length: dashboards }, (_, i) =>
      setTimeout(function poll() {
        void fetch(`${url}/dashboard/data`).then((r) => r.arrayBuffer());
        timers[i] = setTimeout(poll, 1000);
      }, i * 100),
    );
    const { rps } = await wrk(url, "post-orders.lua", seconds);
    for (const timer of timers) clearTimeout(timer);
    await stop(proc);
    return rps;
  };
  for (let round = 0; round < 3; round++) {
    if (round % 2 === 0) {
      runs.none.push(await run(0));
      runs.withTen.push(await run(10));
    } else {
      runs.withTen.push(await run(10));
      runs.none.push(await run(0));
    }
  }
  console.log(
    `dashboards: intake runs without ${runs.none.map(Math.round)}, with ten ${runs.withTen.map(Math.round)}`,
  );
  return { none: median(runs.none), withTen: median(runs.withTen) };
}

/** The k6 burst against a fresh service, waiting with `wait`; the status requests it needed. */
async function k6Burst(wait: Record<string, string>, port: number) {
  const k6 = k6Binary();
  if (!k6) return undefined;
  const proc = await startServer(["src/main.ts"], serviceEnv(port, join(TMP, `k6-${port}.db`)), port);
  const summary = join(TMP, `k6-${port}.json`);
  const run = spawnSync([k6, "run", "--no-usage-report", "-q", "--summary-export", summary, "k6/orders.js"], {
    cwd: ROOT,
    env: { ...process.env, ...wait, BASE_URL: `http://127.0.0.1:${port}` },
    stdout: "ignore",
    stderr: "ignore",
  });
  await stop(proc);
  if (run.exitCode !== 0) throw new Error(`k6 failed (exit ${run.exitCode}) with ${JSON.stringify(wait)}`);
  const data = JSON.parse(await Bun.file(summary).text());
  return {
    requests: data.metrics.http_reqs.count as number,
    completed: data.metrics.orders_completed.count as number,
  };
}

/**
 * End to end at `concurrency` orders per worker: the simulation with no processing time, or the
 * steps of `steps.module` (zero-time steps), compared with the one-step row `steps.against`.
 */
async function endToEnd(concurrency: string, steps?: { module: string; against: number }): Promise<number> {
  const e2e = await runEndToEnd({
    port: 3411,
    db: join(TMP, `e2e-${concurrency}${steps ? "-steps" : ""}.db`),
    seconds: SECONDS,
    concurrency,
    env: steps ? { PROCESS_ORDER_MODULE: steps.module } : {},
  });
  const what = steps ? `PROCESS_ORDER_MODULE=${steps.module} (zero-time steps)` : "PROCESSING_TIME_MS=0";
  const intake = `intake during it ${Math.round(e2e.load.rps).toLocaleString("en")}/s`;
  rows.push({
    scenario: `end-to-end: ${e2e.orders.toLocaleString("en")} orders posted, all completed; ${what}, WORKER_CONCURRENCY=${concurrency}`,
    value: e2e.completedPerSecond,
    unit: "orders/s completed",
    p99: e2e.load.p99_ms,
    rss_mb: e2e.rssMb,
    ratio: steps ? `${(e2e.completedPerSecond / steps.against).toFixed(2)}× one step; ${intake}` : intake,
    target: steps ? "-" : "≥ 15,000/s",
  });
  return e2e.completedPerSecond;
}

function render(): string {
  const fmt = (n: number | undefined, d = 2) =>
    n === undefined || Number.isNaN(n) ? "" : n.toLocaleString("en", { maximumFractionDigits: d });
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}, wrk on the same machine`;
  const header =
    "| scenario | value | unit | p50 ms | p95 ms | p99 ms | peak RSS MB | ratio | target |\n| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |";
  const body = rows.map(
    (r) =>
      `| ${r.scenario} | ${fmt(r.value, 0)} | ${r.unit} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.rss_mb, 0)} | ${r.ratio ?? ""} | ${r.target} |`,
  );
  return `Run ${new Date().toISOString()} (${quick ? "--quick" : "full"}, ${SECONDS} s per load), ${machine}\n\n${header}\n${body.join("\n")}\n`;
}

try {
  await main();
} finally {
  rmSync(TMP, { recursive: true, force: true });
}
const table = render();
console.log(`\n${table}`);
mkdirSync(join(import.meta.dir, "results"), { recursive: true });
writeFileSync(join(import.meta.dir, "results", "latest.md"), table);
writeFileSync(
  join(import.meta.dir, "results", "latest.json"),
  `${JSON.stringify({ quick, rows }, null, 2)}\n`,
);
