#!/usr/bin/env bun
/**
 * The operator's command line (issue 23): `bun run cli <command>` from the repository,
 * `bun src/cli.ts <command>` in the image. It reads the same environment as the service (the
 * configuration of src/config.ts), so a command checks and touches exactly what the service would.
 * The commands on the queue (retry-failed, redeliver-dead) go through the running service's HTTP
 * API (src/cli/service-client.ts says why); the others work on the database itself.
 *
 * Output: one line for a person on stdout per thing done; a failure is one JSON line on stderr (as
 * the service logs a failed start) and exit 1; a wrong command or argument is exit 2 with the usage.
 */
import { setPriority } from "node:os";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { prune } from "./cli/prune.ts";
import { redeliverDead } from "./cli/redeliver-dead.ts";
import { retryFailed } from "./cli/retry-failed.ts";
import { serviceClient } from "./cli/service-client.ts";
import { loadConfig, loadServiceEndpoint, StartupError } from "./config.ts";
import { createLogger } from "./kit/logger.ts";
import { createMetrics } from "./metrics/registry.ts";
import { backupStorage, describeDatabase, migrateStorage, openStorage } from "./open-storage.ts";

const USAGE = `usage: bun run cli <command> [options] [--help]

on the database (DATABASE_URL for PostgreSQL, else DATABASE_PATH for SQLite):
  check-config   validate the environment (DATABASE_URL, DATABASE_PATH, PORT, ...) as the service
                 would at start; exit 1 naming the variable that is wrong
  migrate        apply the database migrations and exit; SQLite refuses while a service has the
                 file open (it migrated the file when it started)
  backup <file>  an online backup into the new <file> while the service runs: VACUUM INTO on
                 SQLite (checked with integrity_check), pg_dump --format=custom on PostgreSQL;
                 never overwrites a file (docs/OPERATING.md says how to restore)
  prune          one retention pass now (EVENT_RETENTION_DAYS, DELIVERY_RETENTION_DAYS,
                 ORDER_RETENTION_DAYS): what it deleted per table; a running service prunes in the
                 background anyway (SQLite refuses while one has the file open)

through the running service (ORDER_SERVICE_URL, default http://127.0.0.1:$PORT; API_KEY if it
wants one):
  retry-failed [--since <time>] [--user <user_id>]
                 retry every failed order (of that user; whose last attempt began at or after
                 <time>: ISO-8601 like 2026-12-07T09:00:00Z, or ago like 30m, 2h, 1d)
  redeliver-dead [--webhook <id>]
                 send every dead webhook delivery (of that subscription) again`;

/** Each command's options and how many positional arguments it takes (parseArgs, strict). */
const COMMANDS: Record<string, { options?: ParseArgsConfig["options"]; positionals?: string[] }> = {
  "check-config": {},
  migrate: {},
  backup: { positionals: ["file"] },
  prune: {},
  "retry-failed": { options: { since: { type: "string" }, user: { type: "string" } } },
  "redeliver-dead": { options: { webhook: { type: "string" } } },
};

/** Says why it failed, as one JSON line naming the setting, and exits 1. */
function fail(error: unknown): never {
  const line =
    error instanceof StartupError
      ? { level: "error", message: error.message, setting: error.setting }
      : { level: "error", message: error instanceof Error ? error.message : String(error) };
  process.stderr.write(`${JSON.stringify(line)}\n`);
  process.exit(1);
}

function usage(code: number, why?: string): never {
  if (why) process.stderr.write(`${why}\n`);
  (code === 0 ? process.stdout : process.stderr).write(`${USAGE}\n`);
  process.exit(code);
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/** `--since`: an ISO-8601 time, or a duration ago (30m, 2h, 1d); epoch ms. */
function parseSince(text: string, now: number): number {
  const ago = /^(\d+)([smhd])$/.exec(text);
  if (ago) return now - Number(ago[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as "s"];
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at))
    usage(
      2,
      `--since must be an ISO-8601 time (2026-12-07T09:00:00Z) or a duration like 30m, 2h, 1d; got "${text}"`,
    );
  return at;
}

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === "--help" || command === "-h" || command === "help")
  usage(command ? 0 : 2);
if (rest.includes("--help") || rest.includes("-h")) usage(0);
const spec = COMMANDS[command];
if (!spec) usage(2, `unknown command: ${command}`);
let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
let positionals: string[];
try {
  ({ values, positionals } = parseArgs({
    args: rest,
    options: spec.options ?? {},
    allowPositionals: true,
    strict: true,
  }));
} catch (error) {
  usage(2, `${command}: ${(error as Error).message}`);
}
const wanted = spec.positionals ?? [];
if (positionals.length !== wanted.length)
  usage(
    2,
    wanted.length === 0
      ? `${command} takes no arguments, got: ${positionals.join(" ")}`
      : `${command} takes ${wanted.map((name) => `<${name}>`).join(" ")}, got: ${positionals.join(" ") || "nothing"}`,
  );
const option = (name: string) => values[name] as string | undefined;

try {
  switch (command) {
    case "check-config": {
      const config = loadConfig();
      const storage = config.databaseUrl ? "PostgreSQL" : "SQLite";
      say(`configuration ok: ${storage} at ${describeDatabase(config)}, port ${config.port}`);
      break;
    }
    case "migrate": {
      const config = loadConfig();
      await migrateStorage(config);
      say(`migrations applied: ${describeDatabase(config)}`);
      break;
    }
    case "backup": {
      const config = loadConfig();
      // The copy competes with the service for CPU and disk, never for a lock: at the lowest
      // priority the service's threads come first (docs/PERFORMANCE.md, "Online backup").
      setPriority(19);
      const file = positionals[0] as string;
      const { bytes, orders } = await backupStorage(config, file);
      const held = orders === undefined ? "" : `, ${orders} orders, integrity_check ok`;
      say(`backup of ${describeDatabase(config)} written to ${file}: ${bytes} bytes${held}`);
      break;
    }
    case "retry-failed": {
      const since = option("since");
      const filter = {
        since: since === undefined ? undefined : parseSince(since, Date.now()),
        user: option("user"),
      };
      await retryFailed(serviceClient(loadServiceEndpoint()), filter, say);
      break;
    }
    case "redeliver-dead":
      await redeliverDead(serviceClient(loadServiceEndpoint()), { webhook: option("webhook") }, say);
      break;
    case "prune": {
      const config = loadConfig();
      const fatal = (reason: string) => fail(new Error(`the database writer failed: ${reason}`));
      await prune(config, await openStorage(config, createLogger("warn"), fatal, createMetrics()), say);
      break;
    }
  }
} catch (error) {
  fail(error);
}
