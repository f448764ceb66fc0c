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
