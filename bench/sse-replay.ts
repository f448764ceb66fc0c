/**
 * `bun bench/sse-replay.ts [--clients 50] [--events 20000] [--rate-kb 512] [--max-queued N] [--cwd DIR]`:
 * memory of SSE replays far behind (issue 19). Starts the real service (`bun src/main.ts`, SQLite in
 * a temp folder, from `--cwd` for an A/B), stores `--events` events (orders POSTed and processed:
 * created, claimed, completed), then opens `--clients` raw TCP connections that each replay from
 * `Last-Event-ID: 0`, reading at `--rate-kb` KB/s (paused and resumed, so the service sees real
 * backpressure), until each has every event. The service's RSS (/proc/<pid>/status VmRSS) is sampled
 * every 100 ms meanwhile, and its peak (VmHWM) read before and after. Prints a table.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import { ROOT, serviceEnv, startServer, stop } from "./lib.ts";

const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
};
const CLIENTS = Number(arg("clients", "50"));
const EVENTS = Number(arg("events", "20000"));
const RATE = Number(arg("rate-kb", "512")) * 1024;
const MAX_QUEUED = arg("max-queued", "");
const CWD = arg("cwd", ROOT);

/** A status line of /proc/<pid>/status, in MB. */
function statusMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** A free port, from the OS. */
function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = listener;
  listener.stop(true);
  return port;
}

/** POSTs orders (200 at a time) until `events` events will exist, and waits until all are processed. */
async function storeEvents(base: string, events: number): Promise<void> {
  const orders = Math.ceil(events / 3);
  for (let i = 0; i < orders; i += 200) {
    const batch = Array.from({ length: Math.min(200, orders - i) }, (_, j) =>
      fetch(`${base}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          user_id: "bench",
          order_id: `replay-${i + j}`,
          item_ids: ["a"],
          total_amount: 1,
        }),
      }).then((res) => {
        if (res.status !== 201) throw new Error(`POST /orders answered ${res.status}`);
      }),
    );
    await Promise.all(batch);
  }
  for (;;) {
    const body = (await (await fetch(`${base}/metrics`)).json()) as { status_counts: { completed: number } };
    if (body.status_counts.completed >= orders) return;
    await Bun.sleep(50);
  }
}

/** The seqs of every stored event, read from the service's SQLite file. */
function storedSeqs(path: string): { count: number; last: number } {
  const db = new Database(path, { readonly: true });
  try {
    return db.query("SELECT count(*) AS count, max(seq) AS last FROM order_events").get() as {
      count: number;
      last: number;
    };
  } finally {
    db.close();
  }
}

type Replay = { events: number; last: number; disorders: number; closed: boolean; doneAt: number };

/**
 * One client: `GET /events` with Last-Event-ID 0 on a raw socket read at `RATE` bytes/s (a token
 * bucket: paused when ahead of it); counts the events (dechunked) until it has `last`.
 */
async function replay(port: number, last: number, startedAt: number): Promise<Replay> {
  const result: Replay = { events: 0, last: 0, disorders: 0, closed: false, doneAt: 0 };
  const done = Promise.withResolvers<Replay>();
  let pending = Buffer.alloc(0);
  let inHead = true;
  let text = "";
  let bytes = 0;
  const finish = (socket: Socket) => {
    result.doneAt = performance.now() - startedAt;
    socket.end();
    done.resolve(result);
  };
  const parse = () => {
    if (inHead) {
      const end = pending.indexOf("\r\n\r\n");
      if (end < 0) return;
      inHead = false;
      pending = pending.subarray(end + 4);
    }
    for (;;) {
      const line = pending.indexOf("\r\n");
      if (line < 0) return;
      const size = Number.parseInt(pending.subarray(0, line).toString(), 16);
      if (pending.length < line + size + 4) return;
      text += pending.subarray(line + 2, line + 2 + size).toString();
      pending = pending.subarray(line + size + 4);
      let end = text.indexOf("\n\n");
      while (end >= 0) {
        if (text.startsWith("id: ")) {
          const seq = Number(text.slice(4, text.indexOf("\n")));
          if (seq <= result.last) result.disorders++;
          result.last = seq;
          result.events++;
        }
        text = text.slice(end + 2);
        end = text.indexOf("\n\n");
      }
    }
  };
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (s, chunk) => {
        bytes += chunk.length;
        pending = Buffer.concat([pending, chunk]);
        parse();
        if (result.last >= last) return finish(s);
        // Ahead of the pace: stop reading until the bucket has caught up.
        const aheadMs = (bytes / RATE) * 1000 - (performance.now() - startedAt);
        if (aheadMs > 0) {
          s.pause();
          setTimeout(() => s.resume(), aheadMs);
        }
      },
      close: () => {
        result.closed = true;
        done.resolve(result);
      },
    },
  });
  socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nLast-Event-ID: 0\r\n\r\n`);
  return done.promise;
}

const tmp = mkdtempSync(join(tmpdir(), "orders-bench-sse-"));
const db = join(tmp, "orders.db");
const port = freePort();
const base = `http://127.0.0.1:${port}`;
const env = serviceEnv(port, db, {
  PROCESSING_TIME_MS: "0",
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
  ...(MAX_QUEUED ? { SSE_MAX_QUEUED_EVENTS: MAX_QUEUED } : {}),
});
const proc = await startServer(["src/main.ts"], env, port, CWD);
try {
  await storeEvents(base, EVENTS);
  const stored = storedSeqs(db);
  await Bun.sleep(1_000); // settle: the intake's garbage, the writer's checkpoint
  const idleRss = statusMb(proc.pid, "VmRSS");
  const hwmBefore = statusMb(proc.pid, "VmHWM");

  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(statusMb(proc.pid, "VmRSS")), 100);
  const startedAt = performance.now();
  const replays = await Promise.all(
    Array.from({ length: CLIENTS }, () => replay(port, stored.last, startedAt)),
  );
  clearInterval(sampler);
  const hwmAfter = statusMb(proc.pid, "VmHWM");

  const complete = replays.filter((r) => r.events === stored.count && r.disorders === 0).length;
  const cut = replays.filter((r) => r.closed && r.last < stored.last).length;
  const times = replays.filter((r) => r.doneAt > 0).map((r) => r.doneAt / 1000);
  const took = times.length > 0 ? `${Math.max(...times).toFixed(1)} s for the slowest` : "none finished";
  const mean = samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
  const mb = (value: number) => value.toFixed(0).padStart(7);
  console.log(
    `\nSSE replay: ${stored.count} events stored, ${CLIENTS} clients from Last-Event-ID 0 at ` +
      `${RATE / 1024} KB/s each, SSE_MAX_QUEUED_EVENTS=${MAX_QUEUED || "default (10000)"}, cwd ${CWD}\n`,
  );
  console.log("| service RSS (MB)                         |      MB |");
  console.log("| ---------------------------------------- | ------: |");
  console.log(`| idle after storing the events (VmRSS)    | ${mb(idleRss)} |`);
  console.log(`| peak before the replays (VmHWM)          | ${mb(hwmBefore)} |`);
  console.log(`| during the replays, mean of VmRSS        | ${mb(mean)} |`);
  console.log(`| during the replays, max of VmRSS         | ${mb(Math.max(...samples))} |`);
  console.log(`| peak after the replays (VmHWM)           | ${mb(hwmAfter)} |`);
  console.log(
    `\n${complete}/${CLIENTS} replays complete, in order, none twice; ${cut} cut off; ` +
      `${took} (${samples.length} RSS samples)`,
  );
} finally {
  await stop(proc);
  rmSync(tmp, { recursive: true, force: true });
}
