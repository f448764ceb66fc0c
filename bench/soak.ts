/**
 * `bun run bench -- --soak [minutes]` (default 10): the realistic mix (realistic.ts) at a constant
 * rate of half its end-to-end capacity, for that long; on SQLite, and on PostgreSQL too when
 * BENCH_DATABASE_URL is set. First the capacity, on a service of its own: wrk for 20 s, then until
 * every order is completed and its three events received. Then a fresh service (the flood's memory
 * would hide the soak's own) and k6 at half that rate; every 10 s the outbox backlog and the
 * service's resident memory. Verdicts:
 *   - backlog flat: its least-squares slope is under 1% of the deliveries owed per second;
 *   - delivery lag p99 ≤ 1 s over the whole soak;
 *   - RSS flat within 10%: the largest sample of the last third ≤ 1.10 × the largest of the first.
 *   - on SQLite, the database file (with its WAL) sampled every minute is no larger at the end than
 *     at minute five: the soak's service keeps events, deliveries and finished orders for
 *     SOAK_RETENTION_DAYS (default 0.0015, about two minutes), so pruning must keep pace.
 * Prints a verdict table and writes bench/results/soak.{md,json}. Needs wrk and k6.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { requireWrk } from "./lib.ts";
import {
  type Backend,
  floodAndDrain,
  type Paced,
  paced,
  postgres,
  sqlite,
  startRealistic,
  stopRealistic,
} from "./realistic.ts";
import { backlogVerdict, list } from "./webhook-lib.ts";

const at = process.argv.indexOf("--soak");
const MINUTES = Number(process.argv[at + 1]) > 0 ? Number(process.argv[at + 1]) : 10;
const EVERY_S = 10;
const FLOOD_S = 20;
const ADMIN_URL = process.env.BENCH_DATABASE_URL;
// The soak's service keeps events, deliveries and finished orders this long (days; 0.0015 is about
// two minutes), so the database stops growing once pruning keeps pace: orders go only after their
// events, so the file is steady about a retention and two passes after the start. (With 0.002, about
// three minutes, it still grew 0.3 MB, 96.8 to 97.1, between minutes five and six, then held.)
const RETENTION_DAYS = process.env.SOAK_RETENTION_DAYS ?? "0.0015";
const TMP = mkdtempSync(join(tmpdir(), "orders-soak-"));
const fmt = (n: number) => Math.round(n).toLocaleString("en");

type Verdict = { backend: string; check: string; measured: string; target: string; verdict: string };

/** The end-to-end capacity of the realistic mix on `backend`, on a service of its own. */
async function capacity(backend: Backend): Promise<number> {
  const run = await startRealistic(backend, "capacity");
  try {
    const flood = await floodAndDrain(run, FLOOD_S, 600);
    console.log(`${backend.name}: end to end ${fmt(flood.endToEnd)} orders/s (${fmt(flood.counted)} orders)`);
    return flood.endToEnd;
  } finally {
    await stopRealistic(run);
  }
}

/** The largest of the first and of the last third of `samples`. */
function thirds(samples: number[]) {
  const third = Math.max(1, Math.floor(samples.length / 3));
  return { first: Math.max(...samples.slice(0, third)), last: Math.max(...samples.slice(-third)) };
}

/** The verdicts on one soak. */
function verdicts(backend: string, e2e: number, soak: Paced): Verdict[] {
  const owed = soak.rate * 3;
  const backlog = backlogVerdict(soak.backlog, EVERY_S, owed);
  const rss = thirds(soak.rss);
  const pass = (ok: boolean) => (ok ? "PASS" : "FAIL");
  const row = (check: string, measured: string, target = "-", verdict = "-") => ({
    backend,
    check,
    measured,
    target,
    verdict,
  });
  return [
    row("end-to-end capacity (wrk 20 s, then drained)", `${fmt(e2e)} orders/s`),
    row(
      `k6 for ${MINUTES} min`,
      `${fmt(soak.rate)} orders/s asked, ${fmt(soak.k6.requests / soak.k6.seconds)}/s sent, ${fmt(soak.k6.dropped)} dropped, ${fmt(soak.k6.failed)} failed`,
    ),
    row("deliveries", `${fmt(soak.deliveredPerS)}/s made, ${fmt(owed)}/s owed`),
    row(
      `outbox backlog every ${EVERY_S} s`,
      `${list(soak.backlog)} (slope ${backlog.slopePerS.toFixed(1)}/s)`,
      `flat: slope < 1% of owed (${(owed / 100).toFixed(1)}/s)`,
      pass(backlog.flat),
    ),
    row(
      "delivery lag",
      `p50 ${fmt(soak.lag.lagP50Ms)} ms, p99 ${fmt(soak.lag.lagP99Ms)} ms`,
      "p99 ≤ 1,000 ms",
      pass(soak.lag.lagP99Ms <= 1000),
    ),
    row(
      `RSS every ${EVERY_S} s (MB)`,
      `${list(soak.rss)}; max of the first third ${rss.first}, of the last ${rss.last} (${(rss.last / rss.first).toFixed(2)}×)`,
      "last third's max ≤ 1.10× the first's",
      pass(rss.last <= 1.1 * rss.first),
    ),
  ];
}

/** The SQLite file's size with its WAL, in MB (0 for a file not there yet). */
function fileMb(path: string): number {
  const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);
  return Math.round(((size(path) + size(`${path}-wal`)) / 2 ** 20) * 10) / 10;
}

/**
 * The verdict on the database file's size, sampled every minute: with retention of a few minutes
 * (issue 23), no larger at the end than at minute five.
 */
function fileVerdict(backend: string, sizes: number[]): Verdict[] {
  if (sizes.length < 6) return [];
  const atFive = sizes[4] as number;
  const last = sizes.at(-1) as number;
  return [
    {
      backend,
      check: `database file every minute (MB), retention ${RETENTION_DAYS} days`,
      measured: `${list(sizes)}`,
      target: "at the end ≤ at minute five",
      verdict: last <= atFive ? "PASS" : "FAIL",
    },
  ];
}

/** Measures the capacity on `backend`, then soaks a fresh service at half of it. */
async function soakOn(
  backend: Backend,
): Promise<{ verdicts: Verdict[]; soak: Paced; e2e: number; sizes: number[] }> {
  const e2e = await capacity(backend);
  const run = await startRealistic(backend, "soak", {
    EVENT_RETENTION_DAYS: RETENTION_DAYS,
    DELIVERY_RETENTION_DAYS: RETENTION_DAYS,
    ORDER_RETENTION_DAYS: RETENTION_DAYS,
  });
  const path = run.database.DATABASE_PATH;
  const sizes: number[] = [];
  const sampler = path ? setInterval(() => sizes.push(fileMb(path)), 60_000) : undefined;
  let soak: Paced;
  try {
    soak = await paced(run, Math.max(1, Math.round(e2e / 2)), MINUTES * 60, EVERY_S);
  } finally {
    clearInterval(sampler);
    await stopRealistic(run);
  }
  const checks = [...verdicts(backend.name, e2e, soak), ...fileVerdict(backend.name, sizes)];
  return { verdicts: checks, soak, e2e, sizes };
}

requireWrk();
const backends = [sqlite(TMP), ...(ADMIN_URL ? [postgres(ADMIN_URL)] : [])];
const results: Awaited<ReturnType<typeof soakOn>>[] = [];
try {
  for (const backend of backends) results.push(await soakOn(backend));
} finally {
  rmSync(TMP, { recursive: true, force: true });
}
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`;
const table = [
  `Soak ${new Date().toISOString()}: the realistic mix at half its end-to-end capacity for ${MINUTES} min, ${machine}`,
  "",
  "| backend | check | measured | target | verdict |",
  "| --- | --- | --- | --- | --- |",
  ...results.flatMap((r) =>
    r.verdicts.map((v) => `| ${v.backend} | ${v.check} | ${v.measured} | ${v.target} | ${v.verdict} |`),
  ),
].join("\n");
console.log(`\n${table}`);
mkdirSync(join(import.meta.dir, "results"), { recursive: true });
writeFileSync(join(import.meta.dir, "results", "soak.md"), `${table}\n`);
writeFileSync(
  join(import.meta.dir, "results", "soak.json"),
  `${JSON.stringify({ minutes: MINUTES, results }, null, 2)}\n`,
);
