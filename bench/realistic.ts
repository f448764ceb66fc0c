/**
 * The realistic scenario (issue 21): the service as it would run, under load. API keys on (every
 * request carries one; /metrics and /dashboard/data need it too), the access log on (LOG_LEVEL=info,
 * to stdout), one subscription to every event type at a fast receiver in a process of its own, ten
 * dashboards polling GET /dashboard/data each second and a Prometheus-like scraper of GET /metrics
 * each second, all from this process. Instant processing (PROCESSING_TIME_MS=0), as in the other
 * end-to-end rows, so what is measured is the service's own work.
 *
 * An order counts end to end when it is completed AND the receiver got its three events (created,
 * claimed, completed). `floodAndDrain` measures intake at full speed (wrk) and then the end-to-end
 * rate (every order posted, over the time until the last one counts), with the CPU each part of
 * the machine spent per order; `paced` runs k6 at a constant arrival rate and samples the outbox
 * backlog and the service's memory. soak.ts and run.ts build on both.
 */
import { join } from "node:path";
import { type PartsUse, partsWindow } from "./cpu.ts";
import {
  freshDatabase,
  metrics,
  peakRssMb,
  rssMb,
  serviceEnv,
  startServer,
  stop,
  type Wrk,
  wrk,
} from "./lib.ts";
import {
  API_KEY,
  AUTH,
  backlogs,
  type PaceRun,
  paceOrders,
  type ReceiverStats,
  sampleEvery,
  startReceiver,
  subscribe,
} from "./webhook-lib.ts";

/** Where a scenario's service keeps its data: a fresh SQLite file or a fresh PostgreSQL database. */
export type Backend = {
  name: "SQLite" | "PostgreSQL";
  database: (tag: string) => Promise<Record<string, string>>;
};

/** SQLite files in `dir`. */
export const sqlite = (dir: string): Backend => ({
  name: "SQLite",
  database: async (tag) => ({ DATABASE_PATH: join(dir, `${tag}-${Date.now().toString(36)}.db`) }),
});

/** Fresh databases on the PostgreSQL server at `adminUrl`. */
export const postgres = (adminUrl: string): Backend => ({
  name: "PostgreSQL",
  database: async (tag) => ({ DATABASE_URL: await freshDatabase(adminUrl, `bench_${tag}`) }),
});

const PORT = 3440;
const RECEIVER_PORT = 3441;
const DASHBOARDS = 10;

/** Ten dashboards and one scraper, each asking once a second (spread over it); `stop()` counts them. */
function startPollers(url: string) {
  let requests = 0;
  let failed = 0;
  const ask = (path: string, headers: Record<string, string>) => {
    requests++;
    void fetch(`${url}${path}`, { headers: { ...AUTH, ...headers } }).then(
      async (answer) => {
        await answer.arrayBuffer();
        if (answer.status !== 200) failed++;
      },
      () => failed++,
    );
  };
  // Prometheus's own Accept header: the service answers it in the text format.
  const scrape = {
    accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
  };
  const pollers = [
    ...Array.from({ length: DASHBOARDS }, () => () => ask("/dashboard/data", {})),
    () => ask("/metrics", scrape),
  ];
  const timers = pollers.map((poll, i) =>
    setTimeout(
      function again() {
        poll();
        timers[i] = setTimeout(again, 1000);
      },
      (i * 1000) / pollers.length,
    ),
  );
  return {
    stop() {
      for (const timer of timers) clearTimeout(timer);
      return { requests, failed };
    },
  };
}

/** A running realistic service: its URL, process, receiver and pollers. */
export type Realistic = Awaited<ReturnType<typeof startRealistic>>;

/**
 * Starts the receiver and the service on a fresh database of `backend` (`extra`: more of the
 * service's environment), subscribes, starts the pollers.
 */
export async function startRealistic(backend: Backend, tag: string, extra: Record<string, string> = {}) {
  const receiver = await startReceiver(RECEIVER_PORT);
  const database = await backend.database(`realistic_${tag}`);
  const env = serviceEnv(PORT, "/tmp/unused.db", {
    ...database,
    API_KEYS: API_KEY,
    METRICS_PUBLIC: "false",
    DASHBOARD_PUBLIC: "false",
    LOG_LEVEL: "info",
    PROCESSING_TIME_MS: "0",
    WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
    ...extra,
  });
  const proc = await startServer(["src/main.ts"], env, PORT);
  const url = `http://127.0.0.1:${PORT}`;
  await subscribe(url, receiver.hook, AUTH);
  const pollers = startPollers(url);
  const layout = { pid: proc.pid, workers: 4, writer: backend.name === "SQLite" };
  return { backend, database, url, proc, layout, receiver, pollers };
}

/** Stops the pollers, the service and the receiver; the pollers' counts. */
export async function stopRealistic(run: Realistic) {
  const polled = run.pollers.stop();
  await stop(run.proc);
  run.receiver.proc.kill();
  await run.receiver.proc.exited;
  return polled;
}

/** Waits until every order is completed and its three events were received, or `deadline` (epoch ms). */
async function drain(run: Realistic, deadline: number) {
  for (;;) {
    const m = await metrics(run.url, AUTH);
    const progress = await run.receiver.progress();
    const done = (m.status_counts.completed ?? 0) === m.total_orders && progress.complete >= m.total_orders;
    if (done || Date.now() > deadline)
      return {
        orders: m.total_orders,
        counted: progress.complete,
        drained: done,
        endAt: progress.completeAt,
      };
    await Bun.sleep(250);
  }
}

/** What `floodAndDrain` measured. */
export type Flood = {
  load: Wrk;
  orders: number;
  counted: number;
  drained: boolean;
  endToEnd: number;
  drainS: number;
  rssMb: number;
  lag: ReceiverStats;
  use?: PartsUse;
};

/**
 * wrk at full speed for `seconds` (64 connections), then until every order counts (at most
 * `drainLimitS`): intake is wrk's rate, end to end is the orders counted over the time from wrk's
 * start to the last one's third event. CPU by part over that whole time: the service's threads as
 * cpu.ts maps them (http, writer, workers, sender, runtime), PostgreSQL's processes, the receiver,
 * `pollers` (this process: the dashboards, the scraper and the drain's own checks), wrk (its own
 * usage once it exited) and the kernel's softirq time.
 */
export async function floodAndDrain(run: Realistic, seconds: number, drainLimitS: number): Promise<Flood> {
  await run.receiver.stats();
  const window = partsWindow(run.layout, { receiver: run.receiver.proc.pid, pollers: process.pid });
  const startedAt = Date.now();
  const load = await wrk(run.url, "post-orders.lua", seconds, 64, { API_KEY });
  if (load.non_2xx + load.socket_errors > 0)
    throw new Error(`realistic intake had errors: ${JSON.stringify(load)}`);
  const loadEndAt = Date.now();
  const { orders, counted, drained, endAt } = await drain(run, loadEndAt + drainLimitS * 1000);
  const end = drained ? endAt : Date.now();
  const use = window?.end({ wrk: load.cpu_s ?? 0 });
  return {
    load,
    orders,
    counted,
    drained,
    endToEnd: counted / ((end - startedAt) / 1000),
    drainS: (end - loadEndAt) / 1000,
    rssMb: peakRssMb(run.proc.pid),
    lag: await run.receiver.stats(),
    use,
  };
}

/** What `paced` measured. */
export type Paced = {
  rate: number;
  k6: PaceRun;
  backlog: number[];
  rss: number[];
  lag: ReceiverStats;
  deliveredPerS: number;
};

/**
 * k6 at `rate` orders/s for `seconds` (with the API key), the outbox backlog (every subscription's,
 * from GET /webhooks) and the service's RSS sampled every `everyS`; the receiver's deliveries and
 * lag over the run.
 */
export async function paced(run: Realistic, rate: number, seconds: number, everyS: number): Promise<Paced> {
  await run.receiver.stats();
  const k6 = paceOrders({ url: run.url, rate, seconds, apiKey: true });
  const sampler = sampleEvery(everyS * 1000, async () => ({
    backlog: [...(await backlogs(run.url, AUTH)).values()].reduce((sum, n) => sum + n, 0),
    rss: rssMb(run.proc.pid),
  }));
  const result = await k6.done;
  const samples = await sampler.stop();
  const lag = await run.receiver.stats();
  return {
    rate,
    k6: result,
    backlog: samples.map((s) => s.backlog),
    rss: samples.map((s) => s.rss),
    lag,
    deliveredPerS: lag.delivered / result.seconds,
  };
}
