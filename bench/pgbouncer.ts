/**
 * `bun run bench -- --pgbouncer [--quick]`: PostgreSQL intake (POST /orders, one replica, 64
 * connections, processing beside it as shipped) three ways, alternated ROUNDS times, each run on a
 * fresh database: direct with prepared statements (the default), direct with
 * PG_PREPARED_STATEMENTS=false (what unnamed statements cost alone), and through PgBouncer in
 * transaction mode with PG_PREPARED_STATEMENTS=false and no DATABASE_DIRECT_URL (what the pooler's
 * hop adds). PgBouncer is started here by scripts/pgbouncer.sh in front of the server and stopped at
 * the end. Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL; trust authentication), pgbouncer and wrk.
 * Prints one table and writes bench/results/pgbouncer.{md,json}.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { spawnSync } from "bun";
import pg from "pg";
import { freshDatabase, ROOT, requireWrk, serviceEnv, startServer, stop, type Wrk, wrk } from "./lib.ts";

const quick = process.argv.includes("--quick");
const SECONDS = quick ? 5 : 20;
const ROUNDS = quick ? 1 : 3;
const PORT = 3450;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const TMP = mkdtempSync(join(tmpdir(), "orders-bench-pgb-"));
// A folder of its own directly in the temp dir: as root, PgBouncer runs as postgres, who cannot
// enter TMP (0700, root's).
const BOUNCER_DIR = mkdtempSync(join(tmpdir(), "orders-bench-pgbouncer-"));

type Variant = { name: string; env: (direct: string, pooled: string) => Record<string, string> };
const VARIANTS: Variant[] = [
  { name: "direct, prepared statements (default)", env: (direct) => ({ DATABASE_URL: direct }) },
  {
    name: "direct, PG_PREPARED_STATEMENTS=false",
    env: (direct) => ({ DATABASE_URL: direct, PG_PREPARED_STATEMENTS: "false" }),
  },
  {
    name: "through PgBouncer 1.18 (transaction mode), PG_PREPARED_STATEMENTS=false, polling",
    env: (_, pooled) => ({ DATABASE_URL: pooled, PG_PREPARED_STATEMENTS: "false" }),
  },
];

/** Drops the database of `url` (and PgBouncer's server connections to it). */
async function drop(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
  await admin.end();
}

/** One intake run of `variant` on a fresh database; any error fails the bench. */
async function intake(variant: Variant, bouncerPort: string): Promise<Wrk> {
  const direct = await freshDatabase(ADMIN_URL as string, "pgb");
  const pooled = new URL(direct);
  pooled.host = `127.0.0.1:${bouncerPort}`;
  try {
    const env = serviceEnv(PORT, join(TMP, "unused.db"), variant.env(direct, pooled.href));
    const proc = await startServer(["src/main.ts"], env, PORT);
    const load = await wrk(`http://127.0.0.1:${PORT}`, "post-orders.lua", SECONDS, 64);
    await stop(proc);
    if (load.non_2xx + load.socket_errors > 0)
      throw new Error(`${variant.name}: errors ${JSON.stringify(load)}`);
    return load;
  } finally {
    await drop(direct);
  }
}

if (!ADMIN_URL) {
  console.error(
    "set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL server the bench may create databases on",
  );
  process.exit(1);
}
requireWrk();
const started = spawnSync([join(ROOT, "scripts/pgbouncer.sh"), BOUNCER_DIR, ADMIN_URL]);
if (started.exitCode !== 0) throw new Error(`pgbouncer did not start: ${started.stderr.toString()}`);
const bouncerPort = started.stdout.toString().trim();
const runs: Wrk[][] = VARIANTS.map(() => []);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, variant] of VARIANTS.entries()) {
      const load = await intake(variant, bouncerPort);
      console.log(
        `round ${round + 1}: ${variant.name}: ${Math.round(load.rps)} orders/s, p99 ${load.p99_ms} ms`,
      );
      runs[i]?.push(load);
    }
  }
} finally {
  const pid = readFileSync(join(BOUNCER_DIR, "pgbouncer.pid"), "utf8").trim();
  process.kill(Number(pid), "SIGTERM");
  rmSync(TMP, { recursive: true, force: true });
  rmSync(BOUNCER_DIR, { recursive: true, force: true });
}

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
const baseline = mean((runs[0] ?? []).map((r) => r.rps));
const rows = VARIANTS.map((variant, i) => {
  const own = runs[i] ?? [];
  const rps = mean(own.map((r) => r.rps));
  return {
    scenario: `intake: POST /orders, 1 replica, 64 connections, ${variant.name}`,
    value: rps,
    unit: "orders/s",
    p50: mean(own.map((r) => r.p50_ms)),
    p99: mean(own.map((r) => r.p99_ms)),
    note: `${(rps / baseline).toFixed(2)}× direct prepared; rounds ${own.map((r) => Math.round(r.rps)).join(", ")}`,
  };
});
const fmt = (v: number, d = 2) => v.toLocaleString("en", { maximumFractionDigits: d });
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`;
const table = `Run ${new Date().toISOString()} (PostgreSQL intake direct and through PgBouncer, ${ROUNDS} alternated round(s) of ${SECONDS} s), ${machine}\n\n| scenario | value | unit | p50 ms | p99 ms | note |\n| --- | ---: | --- | ---: | ---: | --- |\n${rows.map((r) => `| ${r.scenario} | ${fmt(r.value, 0)} | ${r.unit} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.note} |`).join("\n")}\n`;
console.log(`\n${table}`);
mkdirSync(join(import.meta.dir, "results"), { recursive: true });
writeFileSync(join(import.meta.dir, "results", "pgbouncer.md"), table);
writeFileSync(
  join(import.meta.dir, "results", "pgbouncer.json"),
  `${JSON.stringify({ quick, rounds: ROUNDS, seconds: SECONDS, rows }, null, 2)}\n`,
);
