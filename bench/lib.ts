/**
 * What the benchmark scripts share: starting the real service (or a reference server) as a child
 * process, driving it with wrk from a separate process, reading its memory, stopping it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync } from "bun";
import pg from "pg";

/** The repository this script belongs to: the default working directory of the servers. */
export const ROOT = join(import.meta.dir, "..");

/** The JSON line the wrk scripts print. */
export type Wrk = {
  rps: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  non_2xx: number;
  socket_errors: number;
  /** CPU seconds wrk itself used (user + system), from its resource usage once it exited. */
  cpu_s?: number;
};

/** One row of the table `bun run bench` prints (bench/results/latest.{md,json}). */
export type Row = {
  scenario: string;
  value: number;
  unit: string;
  p50?: number;
  p95?: number;
  p99?: number;
  rss_mb?: number;
  ratio?: string;
  target: string;
};

/** Starts a server process and waits until `ready` answers. */
export async function startServer(
  args: string[],
  env: Record<string, string>,
  port: number,
  cwd: string = ROOT,
) {
  const proc = spawn(["bun", ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdout: "ignore",
    stderr: "inherit",
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      () => true,
      () => false,
    );
    const alive = await fetch(`http://127.0.0.1:${port}/orders`, { method: "HEAD" }).then(
      () => true,
      () => false,
    );
    if (ok || alive) break;
    if (Date.now() > deadline) throw new Error(`server ${args.join(" ")} did not start`);
    await Bun.sleep(50);
  }
  return proc;
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
export function peakRssMb(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/);
  return match ? Math.round(Number(match[1]) / 1024) : Number.NaN;
}

/** Resident memory of a process now (VmRSS), in MB. */
export function rssMb(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return match ? Math.round(Number(match[1]) / 1024) : Number.NaN;
}

/** Stops a server: SIGTERM, then SIGKILL if it is still there after 15 s. */
export async function stop(proc: ReturnType<typeof spawn>) {
  proc.kill("SIGTERM");
  await Promise.race([proc.exited, Bun.sleep(15_000)]);
  if (proc.exitCode === null) proc.kill("SIGKILL");
}

/** Runs wrk with a Lua script and returns its JSON line. */
export async function wrk(
  url: string,
  script: string,
  seconds: number,
  connections = 64,
  env: Record<string, string> = {},
  threads = 2,
): Promise<Wrk> {
  const proc = spawn(
    [
      "wrk",
      `-t${Math.min(threads, connections)}`,
      `-c${connections}`,
      `-d${seconds}s`,
      "--latency",
      "-s",
      join(import.meta.dir, script),
      url,
    ],
    {
      env: {
        ...process.env,
        BENCH_RUN: `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
        ...env,
      },
      stdout: "pipe",
    },
  );
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const line = out.split("\n").find((l) => l.startsWith("BENCH "));
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  const usage = proc.resourceUsage();
  return {
    ...(JSON.parse(line.slice(6)) as Wrk),
    cpu_s: usage ? Number(usage.cpuTime.total) / 1e6 : undefined,
  };
}

/** The service's JSON metrics (`headers`: an API key where /metrics needs one). */
export const metrics = async (url: string, headers: Record<string, string> = {}) =>
  (await (await fetch(`${url}/metrics`, { headers })).json()) as {
    total_orders: number;
    status_counts: Record<string, number>;
  };

export function serviceEnv(port: number, db: string, extra: Record<string, string> = {}) {
  return {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_PATH: db,
    // The service as shipped (access log on); BENCH_LOG_LEVEL=warn measures without it.
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
    SHUTDOWN_TIMEOUT_MS: "2000",
    // Intake runs post ~500,000 orders in 20 s while processing takes 100 ms each: past the default
    // bound (100,000 pending) the rest would be 503 OVERLOADED. The bench measures intake, not the bound.
    MAX_PENDING_ORDERS: "1000000000",
    ...extra,
  };
}

/** k6's binary: K6 in the environment, else the copy beside this checkout, else `k6` on PATH. */
export function k6Binary(): string | undefined {
  const candidates = [process.env.K6, join(ROOT, "../shared/tools/k6/k6"), Bun.which("k6") ?? undefined];
  return candidates.find((path) => path !== undefined && Bun.file(path).size > 0);
}

/** Exits with a hint when wrk is missing. */
export function requireWrk(): void {
  if (spawnSync(["sh", "-c", "command -v wrk"]).exitCode !== 0) {
    console.error("wrk is not installed. On Debian/Ubuntu: apt-get update && apt-get install -y wrk");
    process.exit(1);
  }
}

/** Where and how long to run one scenario; `cwd` is the checkout whose service runs (A/B runs). */
export type Run = { port: number; db: string; seconds: number; cwd?: string; env?: Record<string, string> };

/**
 * Intake: POST /orders with default settings, 64 connections; any error fails the run. `lines`:
 * orders with that many priced lines instead of the seed's shape.
 */
export async function runIntake({ port, db, seconds, cwd, env, lines }: Run & { lines?: number }) {
  const proc = await startServer(["src/main.ts"], serviceEnv(port, db, env), port, cwd);
  const shape: Record<string, string> = lines ? { ORDER_LINES: String(lines) } : {};
  const load = await wrk(`http://127.0.0.1:${port}`, "post-orders.lua", seconds, 64, shape);
  const rssMb = peakRssMb(proc.pid);
  await stop(proc);
  if (load.non_2xx + load.socket_errors > 0) throw new Error(`intake had errors: ${JSON.stringify(load)}`);
  return { load, rssMb };
}

/**
 * End to end with instant processing: POSTs for `seconds`, then waits until every order is
 * completed; the rate is over the whole time.
 */
export async function runEndToEnd({
  port,
  db,
  seconds,
  cwd,
  env: extra,
  concurrency,
}: Run & { concurrency: string }) {
  const url = `http://127.0.0.1:${port}`;
  const env = serviceEnv(port, db, { ...extra, PROCESSING_TIME_MS: "0", WORKER_CONCURRENCY: concurrency });
  const proc = await startServer(["src/main.ts"], env, port, cwd);
  const started = performance.now();
  const load = await wrk(url, "post-orders.lua", seconds);
  let m = await metrics(url);
  while ((m.status_counts.completed ?? 0) !== m.total_orders && performance.now() - started < 600_000) {
    await Bun.sleep(20);
    m = await metrics(url);
  }
  const elapsed = (performance.now() - started) / 1000;
  const rssMb = peakRssMb(proc.pid);
  await stop(proc);
  return {
    load,
    rssMb,
    orders: m.total_orders,
    completedPerSecond: (m.status_counts.completed ?? 0) / elapsed,
  };
}

/** The burst of bench/burst.ts against `url`: `count` concurrent POSTs, then until all completed. */
export async function runBurst(
  url: string,
  count = 1000,
): Promise<{ accepted: number; accepted_ms: number; completed_ms: number }> {
  const proc = spawn(["bun", "bench/burst.ts", url, String(count)], { cwd: ROOT, stdout: "pipe" });
  const out = await new Response(proc.stdout).text();
  const line = out.split("\n").find((l) => l.startsWith("BENCH "));
  if (!line) throw new Error(`burst printed no result:\n${out}`);
  return JSON.parse(line.slice(6));
}

/** A new, empty database `orders_<tag>_…` on the PostgreSQL server at `adminUrl`; its URL. */
export async function freshDatabase(adminUrl: string, tag: string): Promise<string> {
  const name = `orders_${tag}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}
