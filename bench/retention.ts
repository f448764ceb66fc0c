/**
 * `bun bench/retention.ts [sqlite|postgres|both]` (default sqlite; postgres needs
 * BENCH_DATABASE_URL): retention beside full-speed intake. A database is seeded with 2,000,000
 * events (666,667 completed orders, three events each) recorded 40 days ago; then, alternately, a
 * service on a copy of it with EVENT_RETENTION_DAYS=100 (nothing to prune: the baseline) and one
 * with the default 30 (all of it to prune), each under 20 s of wrk intake (post-orders.lua, 64
 * connections). DELIVERY_RETENTION_DAYS=0.0001 in both makes the pruner's passes start a second
 * after the start (there are no deliveries, so that is all it changes). Reports intake, its p99
 * and the events pruned per second over the wrk window (history_pruned_rows_total), and writes
 * bench/results/retention.{md,json}. Issue 23's targets: intake within 10% and p99 within 2× of the
 * baseline while pruning at least 20,000 events/s.
 */
import { Database } from "bun:sqlite";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "bun";
import pg from "pg";
import { freshDatabase, ROOT, requireWrk, serviceEnv, startServer, stop, type Wrk, wrk } from "./lib.ts";

const ORDERS = 666_667;
const AGE_MS = 40 * 86_400_000;
const SECONDS = 20;
const ROUNDS = 2;
const PORT = 3311;
const ADMIN_URL = process.env.BENCH_DATABASE_URL;
const TMP = mkdtempSync(join(tmpdir(), "orders-retention-"));
const which = process.argv[2] ?? "sqlite";
const fmt = (n: number) => Math.round(n).toLocaleString("en");

/** Applies the migrations with the CLI, as a deploy job would. */
function migrate(env: Record<string, string>): void {
  const run = spawnSync(["bun", "src/cli.ts", "migrate"], { cwd: ROOT, env: { ...process.env, ...env } });
  if (run.exitCode !== 0) throw new Error(`migrate failed: ${run.stderr.toString()}`);
}

/** A SQLite file holding the old orders and their 2,000,000 events. */
function seedSqlite(): string {
  const path = join(TMP, "seed.db");
  migrate({ DATABASE_PATH: path });
  const db = new Database(path);
  const at = Date.now() - AGE_MS;
  const order = db.prepare(
    `INSERT INTO orders (seq, order_id, user_id, item_ids, currency, total_minor, status, created_at,
       started_at, completed_at, attempts, run_at) VALUES (?, ?, 'user_old', '["item_1"]', 'USD', 1000,
       'completed', ?, ?, ?, 1, ?)`,
  );
  const event = db.prepare(
    "INSERT INTO order_events (order_seq, type, from_status, to_status, attempt, at) VALUES (?, ?, ?, ?, ?, ?)",
  );
  db.transaction(() => {
    for (let seq = 1; seq <= ORDERS; seq++) {
      const t = at + seq;
      order.run(seq, `old-${seq}`, t, t, t, t);
      event.run(seq, "created", null, "pending", 0, t);
      event.run(seq, "claimed", "pending", "processing", 1, t);
      event.run(seq, "completed", "processing", "completed", 1, t);
    }
  })();
  db.close();
  return path;
}

/** A PostgreSQL database holding the same; each run gets a copy (CREATE DATABASE … TEMPLATE). */
async function seedPostgres(adminUrl: string): Promise<string> {
  const url = await freshDatabase(adminUrl, "retention_seed");
  migrate({ DATABASE_URL: url });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const at = `now() - interval '40 days' + s * interval '1 millisecond'`;
  await client.query(
    `INSERT INTO orders (seq, order_id, user_id, item_ids, currency, total_minor, status, created_at,
       started_at, completed_at, attempts, run_at)
     SELECT s, 'old-' || s, 'user_old', '["item_1"]', 'USD', 1000, 'completed', ${at}, ${at}, ${at}, 1, ${at}
     FROM generate_series(1, ${ORDERS}) s`,
  );
  await client.query(`SELECT setval('orders_seq_seq', ${ORDERS})`);
  await client.query(
    `INSERT INTO order_events (order_seq, type, from_status, to_status, attempt, at)
     SELECT s, t.type, t.from_status, t.to_status, t.attempt, ${at}
     FROM generate_series(1, ${ORDERS}) s,
       (VALUES (1, 'created', NULL, 'pending', 0), (2, 'claimed', 'pending', 'processing', 1),
               (3, 'completed', 'processing', 'completed', 1)) t(n, type, from_status, to_status, attempt)
     ORDER BY s, t.n`,
  );
  await client.query("VACUUM ANALYZE");
  await client.end();
  return url;
}

/** A copy of the PostgreSQL seed database; its URL. */
async function copyPostgres(adminUrl: string, seedUrl: string, tag: string): Promise<string> {
  const name = `orders_retention_${tag}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${new URL(seedUrl).pathname.slice(1)}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

const prunedEvents = async (base: string) => {
  const text = await (await fetch(`${base}/metrics?format=prometheus`)).text();
  return Number(/history_pruned_rows_total\{table="events"\} (\d+)/.exec(text)?.[1] ?? 0);
};

type Result = { load: Wrk; prunedPerS: number };

/** One service on `database` under 20 s of intake; the events it pruned meanwhile. */
async function run(database: Record<string, string>, retentionDays: string): Promise<Result> {
  const env = serviceEnv(PORT, database.DATABASE_PATH ?? "", {
    ...database,
    EVENT_RETENTION_DAYS: retentionDays,
    DELIVERY_RETENTION_DAYS: "0.0001",
    LOG_LEVEL: "warn",
  });
  const proc = await startServer(["src/main.ts"], env, PORT);
  try {
    const base = `http://127.0.0.1:${PORT}`;
    // The first pass starts a second after the start.
    await Bun.sleep(1500);
    const before = await prunedEvents(base);
    const load = await wrk(base, "post-orders.lua", SECONDS);
    const pruned = (await prunedEvents(base)) - before;
    if (load.non_2xx + load.socket_errors > 0) throw new Error(`intake had errors: ${JSON.stringify(load)}`);
    return { load, prunedPerS: pruned / SECONDS };
  } finally {
    await stop(proc);
  }
}

type Line = { backend: string; round: number; baseline: Result; pruning: Result };

async function bench(backend: "sqlite" | "postgres"): Promise<Line[]> {
  const started = performance.now();
  const seed = backend === "sqlite" ? seedSqlite() : await seedPostgres(ADMIN_URL as string);
  console.log(`${backend}: seeded ${fmt(ORDERS * 3)} events in ${fmt(performance.now() - started)} ms`);
  const lines: Line[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const results: Record<string, Result> = {};
    for (const [name, days] of [
      ["baseline", "100"],
      ["pruning", "30"],
    ] as const) {
      let database: Record<string, string>;
      if (backend === "sqlite") {
        const path = join(TMP, `${name}-${round}.db`);
        copyFileSync(seed, path);
        database = { DATABASE_PATH: path };
      } else {
        database = { DATABASE_URL: await copyPostgres(ADMIN_URL as string, seed, name) };
      }
      results[name] = await run(database, days);
      const r = results[name];
      console.log(
        `${backend} round ${round} ${name}: intake ${fmt(r.load.rps)}/s p99 ${r.load.p99_ms} ms, pruned ${fmt(r.prunedPerS)} events/s`,
      );
      if (backend === "sqlite") rmSync(database.DATABASE_PATH as string);
    }
    lines.push({ backend, round, baseline: results.baseline as Result, pruning: results.pruning as Result });
  }
  return lines;
}

requireWrk();
const backends =
  which === "both" ? (["sqlite", "postgres"] as const) : ([which] as ("sqlite" | "postgres")[]);
if (backends.includes("postgres") && !ADMIN_URL) throw new Error("postgres needs BENCH_DATABASE_URL");
const lines: Line[] = [];
for (const backend of backends) lines.push(...(await bench(backend)));
rmSync(TMP, { recursive: true, force: true });

const table = [
  `Retention beside intake (bench/retention.ts), ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores: 2,000,000 events 40 days old; wrk ${SECONDS} s, 64 connections`,
  "",
  "| backend | round | intake without / with pruning | ratio | p99 without / with | ratio | events pruned/s |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...lines.map(
    ({ backend, round, baseline: a, pruning: b }) =>
      `| ${backend} | ${round} | ${fmt(a.load.rps)} / ${fmt(b.load.rps)} | ${(b.load.rps / a.load.rps).toFixed(2)} | ${a.load.p99_ms} / ${b.load.p99_ms} ms | ${(b.load.p99_ms / a.load.p99_ms).toFixed(2)} | ${fmt(b.prunedPerS)} |`,
  ),
].join("\n");
console.log(`\n${table}`);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/retention.md"), `${table}\n`);
writeFileSync(join(ROOT, "bench/results/retention.json"), `${JSON.stringify(lines, null, 2)}\n`);
