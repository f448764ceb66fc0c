/**
 * Where the machine's CPU goes during a load (Linux /proc): CPU time of the service processes (all
 * their threads), of PostgreSQL's processes, of wrk, the kernel's softirq work (loopback
 * networking) and what stayed idle, over a window. Divided by the requests answered in the window
 * it gives CPU time per order, the budget a target must fit: a 2-core machine has 2,000,000 µs of
 * CPU per second, so 26,000 orders/s leave 77 µs per order for everything above together.
 */
import { readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "bun";

/** CPU seconds by part, since boot. */
type Sample = Record<string, number>;

const TICK = Number(spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** utime + stime of a process (all its threads), in seconds; 0 if it is gone. */
function processSeconds(pid: string): number {
  try {
    // The fields after the command name, which is in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICK;
  } catch {
    return 0;
  }
}

function commandOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

function sample(servicePids: number[], named: Record<string, number>): Sample {
  const parts: Sample = { service: 0, postgres: 0, wrk: 0 };
  for (const [part, pid] of Object.entries(named)) parts[part] = processSeconds(String(pid));
  const service = new Set(servicePids.map(String));
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    if (service.has(pid)) parts.service = (parts.service ?? 0) + processSeconds(pid);
    else {
      const command = commandOf(pid);
      if (command === "postgres" || command === "wrk")
        parts[command] = (parts[command] ?? 0) + processSeconds(pid);
    }
  }
  // /proc/stat's first line: user nice system idle iowait irq softirq ..., in ticks, all cores.
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]?.split(/\s+/).slice(1).map(Number) ?? [];
  parts.softirq = (cpu[6] ?? 0) / TICK;
  parts.idle = ((cpu[3] ?? 0) + (cpu[4] ?? 0)) / TICK;
  return parts;
}

/** Cores used by each part over a window, and the window's length. */
export type CpuUse = { seconds: number; cores: Record<string, number> };

/**
 * Starts a window now; `end()` closes it. `named` adds parts of their own (a receiver, a load
 * generator: part name -> pid). Undefined where there is no /proc (not Linux).
 */
export function cpuWindow(
  servicePids: number[],
  named: Record<string, number> = {},
): { end: () => CpuUse } | undefined {
  if (process.platform !== "linux") return undefined;
  const started = performance.now();
  const before = sample(servicePids, named);
  return {
    end() {
      const after = sample(servicePids, named);
      const seconds = (performance.now() - started) / 1000;
      const cores: Record<string, number> = {};
      for (const [part, value] of Object.entries(after))
        cores[part] = (value - (before[part] ?? 0)) / seconds;
      return { seconds, cores };
    },
  };
}

/** "service 45 µs, postgres 49 µs, …; idle 0.37 cores" for `rate` requests per second. */
export function perOrder({ cores }: CpuUse, rate: number): string {
  const us = (part: string) => Math.round(((cores[part] ?? 0) * 1e6) / rate);
  const busy = ["service", "postgres", "wrk", "softirq"];
  const total = busy.reduce((sum, part) => sum + us(part), 0);
  return `CPU per order: ${busy.map((p) => `${p} ${us(p)} µs`).join(", ")} (${total} µs in all); idle ${(cores.idle ?? 0).toFixed(2)} cores`;
}

/** One thread of a process: its name, CPU seconds, and the traits that tell Bun's threads apart. */
type Thread = { tid: number; name: string; seconds: number; writeBytes: number; writeCalls: number };

/** A field of /proc/<pid>/task/<tid>/io, 0 where it cannot be read. */
const ioField = (io: string, name: string) => Number(io.match(new RegExp(`^${name}: (\\d+)`, "m"))?.[1] ?? 0);

/** The threads of `pid` now; [] if it is gone. */
function threadsOf(pid: number): Thread[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((tid) => {
    try {
      const io = readFileSync(`/proc/${pid}/task/${tid}/io`, "utf8");
      return [
        {
          tid: Number(tid),
          name: readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim(),
          seconds: processSeconds(`${pid}/task/${tid}`),
          writeBytes: ioField(io, "write_bytes"),
          writeCalls: ioField(io, "syscw"),
        },
      ];
    } catch {
      return []; // it ended between the listing and the read
    }
  });
}

/** How the service's threads are laid out: its order workers, and whether it has a writer thread. */
export type ServiceLayout = { pid: number; workers: number; writer: boolean };

/**
 * Which part each thread of the service is, from what /proc shows (Bun names every Worker thread
 * "Worker", so names alone cannot tell the writer, the sender and the order workers apart):
 *   - the main thread (tid = pid): `http` (HTTP, the dispatcher, dashboards, metrics);
 *   - the writer (SQLite): the Worker thread that wrote the most bytes to storage (write_bytes:
 *     it alone writes the database file and its WAL);
 *   - the sender: of the other Worker threads, the one that made the most write calls (syscw:
 *     every fetch wakes Bun's HTTP client thread through an eventfd write), plus that "HTTP
 *     Client" thread itself, where Bun's fetch runs its sockets (only the sender fetches);
 *   - the order workers: the remaining Worker threads, expected `workers` of them;
 *   - `runtime`: the rest (JIT compilers, GC helpers, the allocator's scavenger, Bun's pool).
 * Where the count of Worker threads is not the expected one, they are all `workers?` and a note
 * says so. The traits are read at the end of a window, after the load has shown them.
 */
export function mapThreads(
  threads: Thread[],
  layout: ServiceLayout,
): { parts: Map<number, string>; notes: string[] } {
  const parts = new Map<number, string>();
  const notes: string[] = [];
  const workers = threads.filter((t) => t.name === "Worker").sort((a, b) => a.tid - b.tid);
  const byMost = (key: "writeBytes" | "writeCalls") => (a: Thread, b: Thread) => b[key] - a[key];
  const writer = layout.writer ? [...workers].sort(byMost("writeBytes"))[0] : undefined;
  const rest = workers.filter((t) => t !== writer);
  const sender = [...rest].sort(byMost("writeCalls"))[0];
  const expected = layout.workers + 1;
  for (const thread of threads) {
    let part = "runtime";
    if (thread.tid === layout.pid) part = "http";
    else if (thread.name === "HTTP Client") part = "sender";
    else if (thread.name === "Worker") {
      if (rest.length !== expected && thread !== writer) part = "workers?";
      else part = thread === writer ? "writer" : thread === sender ? "sender" : "workers";
    }
    parts.set(thread.tid, part);
  }
  if (rest.length !== expected)
    notes.push(`${rest.length} Worker threads besides the writer, ${expected} expected: not told apart`);
  // The order workers start together in one loop, so the sender is the first or the last of them.
  else if (sender && sender !== rest[0] && sender !== rest[rest.length - 1])
    notes.push(`the sender (most write calls) was not created first or last: mapping uncertain`);
  return { parts, notes };
}

/** CPU seconds by part over a window, its length, and what the thread mapping could not settle. */
export type PartsUse = { seconds: number; cpu: Record<string, number>; idleCores: number; notes: string[] };

/**
 * Starts a window over the service's threads (split into parts by `mapThreads`), PostgreSQL's
 * processes, the processes in `named` (part -> pid) and the kernel's softirq time; `end(extra)`
 * closes it, adding CPU seconds measured elsewhere (a load generator's own usage once it exited).
 * Undefined where there is no /proc.
 */
export function partsWindow(
  layout: ServiceLayout,
  named: Record<string, number> = {},
): { end: (extra?: Record<string, number>) => PartsUse } | undefined {
  if (process.platform !== "linux") return undefined;
  const started = performance.now();
  const before = { threads: threadsOf(layout.pid), rest: sample([], named) };
  return {
    end(extra = {}) {
      const threads = threadsOf(layout.pid);
      const rest = sample([], named);
      const seconds = (performance.now() - started) / 1000;
      const { parts, notes } = mapThreads(threads, layout);
      const cpu: Record<string, number> = {};
      const add = (part: string, value: number) => (cpu[part] = (cpu[part] ?? 0) + value);
      const was = new Map(before.threads.map((t) => [t.tid, t.seconds]));
      for (const t of threads) add(parts.get(t.tid) ?? "runtime", t.seconds - (was.get(t.tid) ?? 0));
      const processes = [...(layout.writer ? [] : ["postgres"]), "softirq", ...Object.keys(named)];
      for (const part of processes) add(part, (rest[part] ?? 0) - (before.rest[part] ?? 0));
      for (const [part, value] of Object.entries(extra)) add(part, value);
      const idleCores = ((rest.idle ?? 0) - (before.rest.idle ?? 0)) / seconds;
      return { seconds, cpu, idleCores, notes };
    },
  };
}

/** The parts in the order they are printed; those absent from a window are left out. */
const PART_ORDER = ["http", "writer", "workers", "workers?", "sender", "runtime", "postgres"];

/** "http 40 µs, writer 50 µs, …; 300 µs in all; idle 0.1 cores" per order of `orders`. */
export function perOrderByPart(use: PartsUse, orders: number): { total: number; text: string } {
  const names = [
    ...PART_ORDER.filter((p) => p in use.cpu),
    ...Object.keys(use.cpu).filter((p) => !PART_ORDER.includes(p) && p !== "softirq"),
    "softirq",
  ];
  const us = (part: string) => Math.round(((use.cpu[part] ?? 0) * 1e6) / Math.max(1, orders));
  const total = names.reduce((sum, part) => sum + us(part), 0);
  const notes = use.notes.length > 0 ? ` (${use.notes.join("; ")})` : "";
  return {
    total,
    text: `${names.map((p) => `${p} ${us(p)}`).join(", ")} µs; idle ${use.idleCores.toFixed(2)} cores${notes}`,
  };
}
