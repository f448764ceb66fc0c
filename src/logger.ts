/** Structured logging: one JSON object per line, filtered by LOG_LEVEL. */
import type { LogLevel } from "./config.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A level-filtered JSON-lines logger. */
export type Logger = (
  level: Exclude<LogLevel, "silent">,
  message: string,
  extra?: Record<string, unknown>,
) => void;

/** Creates a logger writing info and below to stdout, warnings and errors to stderr. */
export function createLogger(minimum: LogLevel): Logger {
  return (level, message, extra) => {
    if (RANK[level] < RANK[minimum]) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...extra });
    if (RANK[level] >= RANK.warn) console.error(line);
    else console.log(line);
  };
}
