/**
 * The rows of `bun run bench` for issue 21: the realistic scenario (realistic.ts) on a backend,
 * whether webhook deliveries keep pace at half the bare intake, and whether a slow and a dead
 * receiver slow a fast one down. Each function runs its services and returns its rows.
 */
import { perOrderByPart } from "./cpu.ts";
import { type Row, serviceEnv, startServer, stop } from "./lib.ts";
import {
  type Backend,
  type Flood,
  floodAndDrain,
  type Paced,
  paced,
  startRealistic,
  stopRealistic,
} from "./realistic.ts";
import {
  backlogs,
  backlogVerdict,
  closedPort,
  list,
  type PaceRun,
  paceOrders,
  sampleEvery,
  startReceiver,
  subscribe,
} from "./webhook-lib.ts";

const fmt = (n: number) => Math.round(n).toLocaleString("en");
const LAG_TARGET_MS = 1000;

/** How long each part runs: the flood, the drain's limit, the paced runs, the backlog's sampling. */
export type Durations = { flood: number; drainLimit: number; paced: number; sampleEvery: number };

/** "k6 sent 2,480/s (12 dropped)": what k6 managed of the rate it was given. */
const k6Note = (k6: PaceRun) =>
  `k6 sent ${fmt(k6.requests / k6.seconds)}/s${k6.dropped > 0 ? ` (${fmt(k6.dropped)} dropped)` : ""}${k6.failed > 0 ? `, ${fmt(k6.failed)} failed` : ""}`;

/** "backlog every 5 s: 0, 12, 8 (flat)" */
function backlogNote(samples: number[], everyS: number, owedPerS: number) {
  const { flat, slopePerS } = backlogVerdict(samples, everyS, owedPerS);
  const verdict = flat ? "flat" : `growing ${fmt(slopePerS)}/s`;
  return { flat, text: `outbox backlog every ${everyS} s: ${list(samples)} (${verdict})` };
}

/**
 * The realistic scenario on `backend` (see realistic.ts): intake at full speed, end to end, CPU per
 * order by part over both, then k6 at half the end-to-end rate with the delivery lag. The
 * end-to-end rate is returned for the checks that pace themselves on it.
 */
export async function realisticRows(backend: Backend, bareIntake: number, d: Durations) {
  const run = await startRealistic(backend, "run");
  let flood: Flood;
  let pace: Paced;
  let polled: Polled;
  try {
    flood = await floodAndDrain(run, d.flood, d.drainLimit);
    pace = await paced(run, Math.max(1, Math.round(flood.endToEnd / 2)), d.paced, d.sampleEvery);
  } finally {
    polled = await stopRealistic(run);
  }
  const rows = realisticTable(`realistic (${backend.name})`, { flood, pace, polled, bareIntake, d });
  return { rows, endToEnd: flood.endToEnd };
}

type Polled = { requests: number; failed: number };

/** The realistic scenario's four rows. */
function realisticTable(
  name: string,
  {
    flood,
    pace,
    polled,
    bareIntake,
    d,
  }: { flood: Flood; pace: Paced; polled: Polled; bareIntake: number; d: Durations },
): Row[] {
  const rate = pace.rate;
  const cpu = flood.use ? perOrderByPart(flood.use, flood.counted) : undefined;
  const backlog = backlogNote(pace.backlog, d.sampleEvery, rate * 3);
  return [
    {
      scenario: `${name}: intake at full speed (wrk, 64 connections); API keys, access log, 1 all-events subscription, 10 dashboards and a scraper each second`,
      value: flood.load.rps,
      unit: "orders/s",
      p50: flood.load.p50_ms,
      p95: flood.load.p95_ms,
      p99: flood.load.p99_ms,
      rss_mb: flood.rssMb,
      ratio: `${(flood.load.rps / bareIntake).toFixed(2)}× bare intake (SQLite); pollers: ${fmt(polled.requests)} requests, ${polled.failed} failed`,
      target: "-",
    },
    {
      scenario: `${name}: end to end, ${fmt(flood.counted)} of ${fmt(flood.orders)} orders completed and their 3 events received`,
      value: flood.endToEnd,
      unit: "orders/s",
      ratio: `${flood.drained ? "drained" : "NOT drained"} ${flood.drainS.toFixed(1)} s after ${d.flood} s of intake; delivery lag meanwhile p50 ${fmt(flood.lag.lagP50Ms)} ms, p99 ${fmt(flood.lag.lagP99Ms)} ms`,
      target: "-",
    },
    {
      scenario: `${name}: CPU per order end to end, by part (the service's threads; processes)`,
      value: cpu?.total ?? Number.NaN,
      unit: "µs/order",
      ratio: cpu?.text ?? "no /proc",
      target: "-",
    },
    {
      scenario: `${name}: delivery lag at half the end-to-end rate, k6 at ${fmt(rate)} orders/s for ${d.paced} s`,
      value: pace.deliveredPerS,
      unit: "deliveries/s",
      p50: pace.lag.lagP50Ms,
      p99: pace.lag.lagP99Ms,
      rss_mb: Math.max(...pace.rss),
      ratio: `owed ${fmt(rate * 3)}/s, ${k6Note(pace.k6)}; ${backlog.text}`,
      target: `lag p99 ≤ ${fmt(LAG_TARGET_MS)} ms, backlog flat`,
    },
  ];
}

/** A service on a fresh database of `backend`, instant processing, subscribed to each of `hooks`. */
async function hookedService(backend: Backend, port: number, tag: string, hooks: string[]) {
  const env = serviceEnv(port, "/tmp/unused.db", {
    ...(await backend.database(tag)),
    // Instant processing: with the default 100 ms, 4 × 32 slots complete at most 1,280 orders/s,
    // and the claimed and completed events would come at that pace, not the arrival rate.
    PROCESSING_TIME_MS: "0",
    WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
  });
  const proc = await startServer(["src/main.ts"], env, port);
  const url = `http://127.0.0.1:${port}`;
  for (const hook of hooks) await subscribe(url, hook);
  return { proc, url };
}

/**
 * Do deliveries keep pace? One all-events subscription to a fast receiver (a process of its own),
 * default settings otherwise, k6 at half the bare intake of this run for `seconds`: deliveries
 * made against owed, the outbox backlog every `everyS`, the delivery lag.
 */
export async function paceCheckRow(backend: Backend, bareIntake: number, seconds: number, everyS: number) {
  const receiver = await startReceiver(3441);
  const service = await hookedService(backend, 3443, "pace", [receiver.hook]);
  const rate = Math.round(bareIntake / 2);
  try {
    await receiver.stats();
    const k6 = paceOrders({ url: service.url, rate, seconds });
    const sampler = sampleEvery(
      everyS * 1000,
      async () => (await backlogs(service.url)).get(receiver.hook) ?? 0,
    );
    const run = await k6.done;
    const samples = await sampler.stop();
    const lag = await receiver.stats();
    const backlog = backlogNote(samples, everyS, rate * 3);
    return {
      scenario: `webhook pace (${backend.name}): k6 at half the bare intake, ${fmt(rate)} orders/s for ${seconds} s, 1 all-events subscription to a fast receiver`,
      value: lag.delivered / run.seconds,
      unit: "deliveries/s",
      p50: lag.lagP50Ms,
      p99: lag.lagP99Ms,
      ratio: `owed ${fmt(rate * 3)}/s, ${k6Note(run)}; ${backlog.text}`,
      target: `backlog flat, lag p99 ≤ ${fmt(LAG_TARGET_MS)} ms`,
    } satisfies Row;
  } finally {
    await stop(service.proc);
    receiver.proc.kill();
  }
}

// Unmeasured seconds at the start of each run: a fresh service compiles its hot paths first, and
// k6 takes about a second to start sending.
const WARM_UP_S = 5;

/**
 * The fast receiver's deliveries/s and lag at `rate`, over `seconds` after the warm-up, beside the
 * subscriptions `others`.
 */
async function fastBeside(backend: Backend, rate: number, seconds: number, others: string[]) {
  const fast = await startReceiver(3441);
  const service = await hookedService(backend, 3444, `beside${others.length}`, [fast.hook, ...others]);
  try {
    const k6 = paceOrders({ url: service.url, rate, seconds: WARM_UP_S + seconds });
    await Bun.sleep((WARM_UP_S + 1) * 1000);
    await fast.stats();
    const started = performance.now();
    await k6.done;
    const lag = await fast.stats();
    const perS = lag.delivered / ((performance.now() - started) / 1000);
    const backlog = await backlogs(service.url);
    return { perS, lag, backlog: backlog.get(fast.hook) ?? 0 };
  } finally {
    await stop(service.proc);
    fast.proc.kill();
    await fast.proc.exited;
  }
}

/**
 * A slow receiver (answers after 2 s) and a dead one (connection refused, a closed port) beside the
 * fast one: the fast one's deliveries/s and lag with its subscription alone, then with all three,
 * each on a fresh service at the same constant arrival rate (k6), after a warm-up of WARM_UP_S.
 */
export async function slowDeadRow(backend: Backend, rate: number, seconds: number): Promise<Row> {
  const alone = await fastBeside(backend, rate, seconds, []);
  const slow = await startReceiver(3442, 2000);
  let beside: Awaited<ReturnType<typeof fastBeside>>;
  try {
    beside = await fastBeside(backend, rate, seconds, [slow.hook, `http://127.0.0.1:${closedPort()}/hook`]);
  } finally {
    slow.proc.kill();
  }
  const ratio = beside.perS / alone.perS;
  const lagRatio = beside.lag.lagP99Ms / Math.max(1, alone.lag.lagP99Ms);
  return {
    scenario: `webhooks beside a slow (2 s) and a dead receiver (${backend.name}): the fast one's deliveries, k6 at ${fmt(rate)} orders/s, ${seconds} s after ${WARM_UP_S} s of warm-up`,
    value: beside.perS,
    unit: "deliveries/s",
    p50: beside.lag.lagP50Ms,
    p99: beside.lag.lagP99Ms,
    ratio: `${ratio.toFixed(2)}× alone (${fmt(alone.perS)}/s, lag p50 ${fmt(alone.lag.lagP50Ms)} ms, p99 ${fmt(alone.lag.lagP99Ms)} ms); lag p99 ${lagRatio.toFixed(2)}× alone; fast backlog at the end ${fmt(alone.backlog)} alone, ${fmt(beside.backlog)} beside`,
    // A lag p99 of tens of ms moves by more than 10% from run to run: 50 ms of slack on it.
    target: "≥ 0.9× alone; lag p99 ≤ 1.1× alone + 50 ms",
  };
}
