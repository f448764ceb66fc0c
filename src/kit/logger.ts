/**
 * Structured logging: one JSON object per line, filtered by LOG_LEVEL. Access-log lines are
 * buffered and written once per event-loop turn; every other line flushes them first, so stdout
 * stays in order.
 */
import type { LogLevel } from "../config.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A level-filtered JSON-lines logger. */
export type Logger = (
  level: Exclude<LogLevel, "silent">,
  message: string,
  extra?: Record<string, unknown>,
) => void;

// Access-log lines waiting for the end of the turn: one console.log of a turn's lines joined costs
// a fraction of a console.log per line, measured writing to a pipe (figures: docs/PERFORMANCE.md).
let buffered: string[] = [];
let scheduled = false;

/** Writes the buffered access-log lines now. */
export function flushLogs(): void {
  scheduled = false;
  if (buffered.length === 0) return;
  const lines = buffered;
  buffered = [];
  console.log(lines.join("\n"));
}

/** Creates a logger writing info and below to stdout, warnings and errors to stderr. */
export function createLogger(minimum: LogLevel): Logger {
  return (level, message, extra) => {
    if (RANK[level] < RANK[minimum]) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...extra });
    flushLogs();
    if (RANK[level] >= RANK.warn) console.error(line);
    else console.log(line);
  };
}

/** One answered request, as the access log writes it. */
export type AccessEntry = {
  method: string;
  route: string;
  status: number;
  durationMs: number;
  requestId: string;
  /** The client's address: an IP as Bun or client-address.ts spells it, or "unknown". */
  client: string;
  /** The request's span, when traced and sampled. */
  trace_id?: string;
  span_id?: string;
};

// The time of the last line, reused while the clock has not moved: toISOString on every line is a
// measurable cost per request (figures: docs/PERFORMANCE.md).
let lastMs = 0;
let lastIso = "";

/**
 * The access log: one `info` line per request, buffered for the turn. Undefined when LOG_LEVEL is
 * above info, so a quiet service does no work for it at all.
 */
export function createAccessLog(minimum: LogLevel): ((entry: AccessEntry) => void) | undefined {
  if (RANK.info < RANK[minimum]) return undefined;
  return (entry) => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastIso = new Date(now).toISOString();
    }
    // Built by hand, not with JSON.stringify: the method and route are quoted, the request id is
    // ours or matched [A-Za-z0-9._:-], the client is an address we parsed (hex, digits, `.:%`) or
    // Bun's, and the rest are numbers.
    buffered.push(
      `{"time":"${lastIso}","level":"info","message":"request","method":${JSON.stringify(entry.method)},"route":${JSON.stringify(entry.route)},"status":${entry.status},"durationMs":${Math.round(entry.durationMs * 1000) / 1000},"requestId":"${entry.requestId}","client":"${entry.client}"${entry.trace_id ? `,"trace_id":"${entry.trace_id}","span_id":"${entry.span_id}"` : ""}}`,
    );
    if (!scheduled) {
      scheduled = true;
      setImmediate(flushLogs);
    }
  };
}
