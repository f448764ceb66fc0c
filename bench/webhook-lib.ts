/**
 * What the webhook and realistic scenarios share: a receiver in a process of its own
 * (bench/receiver.ts), subscribing to it, the outbox backlog as GET /webhooks shows it, k6 at a
 * constant arrival rate (k6/pace.js), and the verdicts on what they measured.
 */
import { spawn } from "bun";
import { k6Binary, ROOT } from "./lib.ts";

/** The API key of the scenarios that run with API_KEYS on. */
export const API_KEY = "bench-key-0123456789abcdef";
/** The header that carries it. */
export const AUTH = { "x-api-key": API_KEY };

/** What bench/receiver.ts's GET /progress answers: since its start. */
export type ReceiverProgress = { complete: number; completeAt: number; duplicates: number; inFlight: number };

/** What bench/receiver.ts's GET /stats answers: the window's deliveries and lag, and the progress. */
export type ReceiverStats = {
  delivered: number;
  lagP50Ms: number;
  lagP99Ms: number;
  complete: number;
  completeAt: number;
  duplicates: number;
  inFlight: number;
};

/** A receiver process on `port` answering after `delayMs`; `stats()` closes its window. */
export async function startReceiver(port: number, delayMs = 0) {
  const proc = spawn(["bun", "bench/receiver.ts", String(port), String(delayMs)], {
    cwd: ROOT,
    stdout: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  const stats = async () => (await (await fetch(`${url}/stats`)).json()) as ReceiverStats;
  const progress = async () => (await (await fetch(`${url}/progress`)).json()) as ReceiverProgress;
  for (let tries = 0; ; tries++) {
    if (
      await stats().then(
        () => true,
        () => false,
      )
    )
      break;
    if (tries > 100) throw new Error(`the receiver on ${port} did not start`);
    await Bun.sleep(50);
  }
  return { proc, url, hook: `${url}/hook`, stats, progress };
}

/** A port on 127.0.0.1 that nothing listens on: a dead receiver (connection refused). */
export function closedPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = listener;
  listener.stop(true);
  return port;
}

/** Subscribes `hook` to every event type on the service at `url`; its id. */
export async function subscribe(url: string, hook: string, headers: Record<string, string> = {}) {
  const answer = await fetch(`${url}/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ url: hook }),
  });
  if (answer.status !== 201)
    throw new Error(`POST /webhooks answered ${answer.status}: ${await answer.text()}`);
  return ((await answer.json()) as { id: string }).id;
}

/** Each subscription's outbox backlog (deliveries pending), by its URL, as GET /webhooks lists it. */
export async function backlogs(url: string, headers: Record<string, string> = {}) {
  const answer = await fetch(`${url}/webhooks?limit=100`, { headers });
  if (answer.status !== 200) throw new Error(`GET /webhooks answered ${answer.status}`);
  const { webhooks } = (await answer.json()) as { webhooks: { url: string; backlog: number }[] };
  return new Map(webhooks.map((webhook) => [webhook.url, webhook.backlog]));
}

/** Calls `read` now and every `ms` from now on; `stop()` ends it and gives what was read. */
export function sampleEvery<T>(ms: number, read: () => Promise<T> | T) {
  const samples: T[] = [];
  let reading = (async () => {
    samples.push(await read());
  })();
  const timer = setInterval(() => {
    reading = reading.then(async () => {
      samples.push(await read());
    });
  }, ms);
  return {
    async stop(): Promise<T[]> {
      clearInterval(timer);
      await reading;
      return samples;
    },
  };
}

/** What one k6 run at a constant arrival rate did; `seconds` is its scenario's duration (k6 takes ~1 s more to start). */
export type PaceRun = { requests: number; dropped: number; failed: number; seconds: number; cpuS: number };

/**
 * k6/pace.js against `url`: `rate` POST /orders per second for `seconds` (with the API key when
 * `apiKey`). `pid` is k6's, to watch it; `done` resolves once it exited, with what it did.
 */
export function paceOrders(options: { url: string; rate: number; seconds: number; apiKey?: boolean }) {
  const k6 = k6Binary();
  if (!k6) throw new Error("k6 not found (K6, ../shared/tools/k6/k6 or PATH)");
  const summary = `/tmp/bench-k6-pace-${process.pid}-${Date.now()}.json`;
  const env = [`BASE_URL=${options.url}`, `RATE=${options.rate}`, `DURATION=${options.seconds}s`];
  if (options.apiKey) env.push(`API_KEY=${API_KEY}`);
  const proc = spawn(
    [
      k6,
      "run",
      "--quiet",
      "--no-usage-report",
      "--summary-export",
      summary,
      ...env.flatMap((e) => ["-e", e]),
      "k6/pace.js",
    ],
    { cwd: ROOT, stdout: "ignore", stderr: "ignore" },
  );
  const done = (async (): Promise<PaceRun> => {
    await proc.exited;
    if (proc.exitCode !== 0) throw new Error(`k6 exited ${proc.exitCode}`);
    const file = Bun.file(summary);
    const data = (await file.json()) as { metrics: Record<string, Record<string, number>> };
    await file.delete();
    return {
      requests: data.metrics.http_reqs?.count ?? 0,
      dropped: data.metrics.dropped_iterations?.count ?? 0,
      failed: Math.round((data.metrics.http_req_failed?.value ?? 0) * (data.metrics.http_reqs?.count ?? 0)),
      seconds: options.seconds,
      cpuS: Number(proc.resourceUsage()?.cpuTime.total ?? 0) / 1e6,
    };
  })();
  return { pid: proc.pid, done };
}

/**
 * Whether a backlog sampled every `intervalS` stayed flat: its least-squares slope is under 1% of
 * the deliveries owed per second (a backlog growing that fast adds a second of lag every 100 s).
 */
export function backlogVerdict(samples: number[], intervalS: number, owedPerS: number) {
  const n = samples.length;
  const meanX = ((n - 1) * intervalS) / 2;
  const meanY = samples.reduce((sum, y) => sum + y, 0) / Math.max(1, n);
  let num = 0;
  let den = 0;
  samples.forEach((y, i) => {
    num += (i * intervalS - meanX) * (y - meanY);
    den += (i * intervalS - meanX) ** 2;
  });
  const slopePerS = den === 0 ? 0 : num / den;
  return { slopePerS, flat: n >= 2 && slopePerS < 0.01 * owedPerS };
}

/** "1,234, 2,345, …" */
export const list = (values: number[]) => values.map((v) => Math.round(v).toLocaleString("en")).join(", ");
