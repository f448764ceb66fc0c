/**
 * `bun bench/leases.ts [--quick]`: leases on PostgreSQL under pressure, as issue 18 measures them.
 *
 * 1. One replica, SECONDS of POST /orders (wrk, 32 connections), each order processed for 50 ms,
 *    at LEASE_MS=2000 and then 300: orders completed per second, deadlocks (pg_stat_database),
 *    pool timeouts (the service's log), lease ticks skipped, claims lost, and the p99 of the pump,
 *    renewal and rescue calls (the service's histogram): what the lowest safe LEASE_MS rests on.
 * 2. Three replicas, LEASE_MS=1000, 32 clients posting through any replica, 5 rounds of kill -9 of
 *    a random replica (restarted at once), a journal of every fulfilment (bench/journal-order.ts).
 *    Then: every order answered 201 is completed (nothing lost or stuck), every history chains
 *    (each event's from is the previous event's to), and every order fulfilled twice or rescued
 *    from its holder traces back to a killed replica.
 *
 * Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL) and wrk. Prints both tables.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { spawn } from "bun";
import pg from "pg";
import { freshDatabase, ROOT, requireWrk, wrk } from "./lib.ts";

const quick = process.argv.includes("--quick");
const SECONDS = quick ? 10 : 30;
const ROUNDS = 5;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const TMP = mkdtempSync(join(tmpdir(), "orders-bench-leases-"));
const JOURNAL = join(import.meta.dir, "journal-order.ts");

/** A fresh, empty database; its URL. */
const freshDb = (tag: string) => freshDatabase(ADMIN_URL as string, `leases_${tag}`);

/** Rows of `text` on `url`. */
async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

const deadlocks = async (url: string) =>
  Number(
    (
      await sql<{ n: string }>(
        url,
        "SELECT deadlocks AS n FROM pg_stat_database WHERE datname = current_database()",
      )
    )[0]?.n,
  );

type Replica = { port: number; proc: ReturnType<typeof spawn>; log: string };

/** Starts the service on `port` with `env`, its log in a file; waits until /ready answers 200. */
async function startReplica(port: number, env: Record<string, string>): Promise<Replica> {
  const log = join(TMP, `replica-${port}-${Date.now()}.log`);
  const proc = spawn(["bun", "src/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "warn",
      MAX_PENDING_ORDERS: "1000000000",
      SHUTDOWN_TIMEOUT_MS: "2000",
      ...env,
    },
    stdout: "ignore",
    stderr: Bun.file(log),
  });
  const deadline = Date.now() + 30_000;
  while (
    (await fetch(`http://127.0.0.1:${port}/ready`).then(
      (r) => r.status,
      () => 0,
    )) !== 200
  ) {
    if (Date.now() > deadline)
      throw new Error(`the replica on ${port} did not start:\n${readFileSync(log, "utf8")}`);
    await Bun.sleep(50);
  }
  return { port, proc, log };
}

/** The p99 bucket bound (ms) of one call of order_queue_call_duration_seconds, from the text format. */
function callP99(text: string, call: string): number {
  const buckets = [
    ...text.matchAll(
      new RegExp(`order_queue_call_duration_seconds_bucket\\{le="([^"]+)",call="${call}"\\} (\\d+)`, "g"),
    ),
  ].map((m) => ({ le: Number(m[1]), count: Number(m[2]) }));
  const total = buckets.at(-1)?.count ?? 0;
  const bound = buckets.find((b) => b.count >= 0.99 * total);
  return bound ? bound.le * 1000 : Number.NaN;
}

const counter = (text: string, name: string) =>
  Number(text.match(new RegExp(`^${name} (\\d+)`, "m"))?.[1] ?? 0);

/** Scenario 1 at one LEASE_MS. */
async function steadyLoad(leaseMs: number) {
  const url = await freshDb(`steady${leaseMs}`);
  const replica = await startReplica(3470, {
    DATABASE_URL: url,
    LEASE_MS: String(leaseMs),
    PROCESSING_TIME_MS: "50",
  });
  const before = await deadlocks(url);
  const base = `http://127.0.0.1:${replica.port}`;
  const load = await wrk(base, "post-orders.lua", SECONDS, 32);
  const completed = Number(
    (await sql<{ n: string }>(url, "SELECT count(*) AS n FROM orders WHERE status = 'completed'"))[0]?.n,
  );
  const text = await (await fetch(`${base}/metrics?format=prometheus`)).text();
  replica.proc.kill("SIGTERM");
  await replica.proc.exited;
  const log = readFileSync(replica.log, "utf8");
  return {
    leaseMs,
    intake: load.rps,
    completedPerSecond: completed / SECONDS,
    deadlocks: (await deadlocks(url)) - before,
    poolTimeouts: (log.match(/timeout exceeded when trying to connect/g) ?? []).length,
    unavailable: (log.match(/STORAGE_UNAVAILABLE|failed: /g) ?? []).length,
    ticksSkipped: counter(text, "order_lease_ticks_skipped_total"),
    claimsLost: counter(text, "order_claims_lost_total"),
    pumpP99: callP99(text, "pump"),
    renewalP99: callP99(text, "renewal"),
    rescueP99: callP99(text, "rescue"),
  };
}

/** Scenario 2. */
async function killRounds() {
  const url = await freshDb("kills");
  const journalDir = join(TMP, "journal");
  Bun.spawnSync(["mkdir", "-p", journalDir]);
  const env = {
    DATABASE_URL: url,
    LEASE_MS: "1000",
    PROCESS_ORDER_MODULE: JOURNAL,
    JOURNAL_DIR: journalDir,
    WORKER_CONCURRENCY: "8",
  };
  const replicas = [3480, 3481, 3482];
  const live = await Promise.all(replicas.map((port) => startReplica(port, env)));
  const before = await deadlocks(url);
  const killedPids = new Set<number>();
  const accepted: string[] = [];
  let posting = true;
  let failedPosts = 0;
  // 32 clients, each posting through the replicas in turn; a refused connection moves on.
  const clients = Array.from({ length: 32 }, async (_, c) => {
    for (let n = 0; posting; n++) {
      const port = replicas[(c + n) % replicas.length] as number;
      const orderId = `k${c}-${n}`;
      const body = JSON.stringify({
        user_id: `user_${c}`,
        order_id: orderId,
        item_ids: ["item_1"],
        total_amount: 10,
      });
      const status = await fetch(`http://127.0.0.1:${port}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      }).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 201) accepted.push(orderId);
      else failedPosts++;
    }
  });
  for (let round = 0; round < ROUNDS; round++) {
    await Bun.sleep(4000);
    const i = Math.floor(Math.random() * live.length);
    const victim = live[i] as Replica;
    killedPids.add(victim.proc.pid);
    victim.proc.kill("SIGKILL");
    await victim.proc.exited;
    live[i] = await startReplica(victim.port, env);
  }
  await Bun.sleep(2000);
  posting = false;
  await Promise.all(clients);
  // Drain: every order done, within a minute.
  const drainStart = Date.now();
  let open = Number.NaN;
  while (Date.now() - drainStart < 60_000) {
    open = Number(
      (
        await sql<{ n: string }>(
          url,
          "SELECT count(*) AS n FROM orders WHERE status IN ('pending', 'processing')",
        )
      )[0]?.n,
    );
    if (open === 0) break;
    await Bun.sleep(200);
  }
  const completed = new Set(
    (await sql<{ order_id: string }>(url, "SELECT order_id FROM orders WHERE status = 'completed'")).map(
      (r) => r.order_id,
    ),
  );
  const lost = accepted.filter((id) => !completed.has(id)).length;
  // A history chains when each event starts where the one before it ended.
  const broken = Number(
    (
      await sql<{ n: string }>(
        url,
        `SELECT count(*) AS n FROM (
           SELECT from_status, lag(to_status) OVER (PARTITION BY order_seq ORDER BY seq) AS previous
           FROM order_events) e
         WHERE from_status IS DISTINCT FROM previous`,
      )
    )[0]?.n,
  );
  // The journal: which process ran (start) and fulfilled (done) each attempt.
  const ranBy = new Map<string, number>();
  const fulfilments = new Map<string, { attempt: number; pid: number }[]>();
  for (const file of readdirSync(journalDir)) {
    for (const line of readFileSync(join(journalDir, file), "utf8").split("\n")) {
      const [kind, orderId = "", attempt, pid] = line.split(" ");
      if (kind === "start") ranBy.set(`${orderId} ${attempt}`, Number(pid));
      if (kind === "done")
        fulfilments.set(orderId, [
          ...(fulfilments.get(orderId) ?? []),
          { attempt: Number(attempt), pid: Number(pid) },
        ]);
    }
  }
  // Fulfilled twice: every fulfilment but the last (the one recorded) must have run in a process
  // that was killed before it could record it.
  const twice = [...fulfilments].filter(([, done]) => done.length > 1);
  const unexplainedTwice = twice.filter(([, done]) =>
    done
      .sort((a, b) => a.attempt - b.attempt)
      .slice(0, -1)
      .some(({ pid }) => !killedPids.has(pid)),
  ).length;
  // Which process each claim's owner was (the run id of its worker pool, learned from the claims
  // that started), then whose claims the rescues took.
  const claims = await sql<{ order_id: string; attempt: number; owner: string }>(
    url,
    `SELECT o.order_id, e.attempt, e.details->>'claimed_by' AS owner FROM order_events e
     JOIN orders o ON o.seq = e.order_seq WHERE e.type = 'claimed'`,
  );
  const runOf = (owner: string) => owner.split("/")[0] as string;
  const pidOfRun = new Map<string, number>();
  const ownerOf = new Map<string, string>();
  for (const { order_id, attempt, owner } of claims) {
    ownerOf.set(`${order_id} ${attempt}`, owner);
    const pid = ranBy.get(`${order_id} ${attempt}`);
    if (pid !== undefined) pidOfRun.set(runOf(owner), pid);
  }
  const rescues = await sql<{ order_id: string; attempt: number }>(
    url,
    `SELECT o.order_id, e.attempt FROM order_events e JOIN orders o ON o.seq = e.order_seq
     WHERE e.type = 'released' AND e.details->>'reason' = 'lease_expired'`,
  );
  const rescuedFrom = rescues.map(({ order_id, attempt }) => {
    const owner = ownerOf.get(`${order_id} ${attempt}`);
    return owner === undefined ? undefined : pidOfRun.get(runOf(owner));
  });
  const fromLive = rescuedFrom.filter((pid) => pid !== undefined && !killedPids.has(pid)).length;
  const unknown = rescuedFrom.filter((pid) => pid === undefined).length;
  const logs = readdirSync(TMP)
    .filter((f) => f.startsWith("replica-348"))
    .map((f) => readFileSync(join(TMP, f), "utf8"))
    .join("\n");
  for (const replica of live) replica.proc.kill("SIGTERM");
  await Promise.all(live.map((r) => r.proc.exited));
  return {
    accepted: accepted.length,
    failedPosts,
    lost,
    open,
    broken,
    twice: twice.length,
    unexplainedTwice,
    rescues: rescues.length,
    fromLive,
    unknown,
    deadlocks: (await deadlocks(url)) - before,
    poolTimeouts: (logs.match(/timeout exceeded when trying to connect/g) ?? []).length,
  };
}

if (!ADMIN_URL) {
  console.error(
    "set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL server the bench may create databases on",
  );
  process.exit(1);
}
requireWrk();
try {
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}`;
  console.log(`Run ${new Date().toISOString()}, ${machine}`);
  // Alternated, so that drift of the machine hits both alike.
  const steady: Awaited<ReturnType<typeof steadyLoad>>[] = [];
  for (const leaseMs of [2000, 300, 2000, 300]) steady.push(await steadyLoad(leaseMs));
  console.log(
    `\nOne replica, ${SECONDS} s of POST /orders (wrk, 32 connections), 50 ms processing\n\n` +
      "| LEASE_MS | intake/s | completed/s | deadlocks | pool timeouts | storage failures logged | ticks skipped | claims lost | pump p99 ms | renewal p99 ms | rescue p99 ms |\n" +
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" +
      steady
        .map(
          (s) =>
            `| ${s.leaseMs} | ${s.intake.toFixed(0)} | ${s.completedPerSecond.toFixed(0)} | ${s.deadlocks} | ${s.poolTimeouts} | ${s.unavailable} | ${s.ticksSkipped} | ${s.claimsLost} | ≤ ${s.pumpP99} | ≤ ${s.renewalP99} | ≤ ${s.rescueP99} |`,
        )
        .join("\n"),
  );
  const rate = (leaseMs: number) =>
    steady.filter((s) => s.leaseMs === leaseMs).reduce((sum, s) => sum + s.completedPerSecond, 0);
  console.log(
    `\ncompleted/s at 300 ms ÷ at 2000 ms (both runs of each): ${(rate(300) / rate(2000)).toFixed(2)}`,
  );
  const kills = await killRounds();
  console.log(
    `\nThree replicas, LEASE_MS=1000, 32 clients, ${ROUNDS} rounds of kill -9 (restarted at once)\n\n` +
      "| answered 201 | posts refused or failed | lost | still open after drain | broken histories | fulfilled twice | of which no kill behind | lease rescues | from a live replica | holder unknown | deadlocks | pool timeouts |\n" +
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" +
      `| ${kills.accepted} | ${kills.failedPosts} | ${kills.lost} | ${kills.open} | ${kills.broken} | ${kills.twice} | ${kills.unexplainedTwice} | ${kills.rescues} | ${kills.fromLive} | ${kills.unknown} | ${kills.deadlocks} | ${kills.poolTimeouts} |`,
  );
} finally {
  rmSync(TMP, { recursive: true, force: true });
}
