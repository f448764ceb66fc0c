#!/usr/bin/env bun
/**
 * The operator's command line (issue 23, first step): `bun run cli <command>` from the repository,
 * `bun src/cli.ts <command>` in the image. It reads the same environment as the service (the
 * configuration of src/config.ts), so a command checks and touches exactly what the service would.
 *
 *   check-config   validate the environment as the service would at start; exit 1 naming the variable
 *   migrate        apply the database migrations and exit (a deploy job before new replicas start)
 *
 * Output: one line for a person on stdout; a failure is one JSON line on stderr (as the service
 * logs a failed start) and exit 1; a wrong command or option is exit 2 with the usage.
 */
import { loadConfig, StartupError } from "./config.ts";
import { describeDatabase, migrateStorage } from "./open-storage.ts";

const USAGE = `usage: bun run cli <command> [--help]

commands:
  check-config   validate the environment (DATABASE_URL, DATABASE_PATH, PORT, ...) as the service
                 would at start; exit 1 naming the variable that is wrong
  migrate        apply the database migrations to DATABASE_URL (PostgreSQL) or DATABASE_PATH
                 (SQLite) and exit; SQLite refuses while a service has the file open (it migrated
                 the file when it started)`;

/** Says why it failed, as one JSON line naming the setting, and exits 1. */
function fail(error: unknown): never {
  const line =
    error instanceof StartupError
      ? { level: "error", message: error.message, setting: error.setting }
      : { level: "error", message: error instanceof Error ? error.message : String(error) };
  process.stderr.write(`${JSON.stringify(line)}\n`);
  process.exit(1);
}

function usage(code: number): never {
  (code === 0 ? process.stdout : process.stderr).write(`${USAGE}\n`);
  process.exit(code);
}

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === "--help" || command === "-h" || command === "help")
  usage(command ? 0 : 2);
if (rest.includes("--help") || rest.includes("-h")) usage(0);
if (rest.length > 0) {
  process.stderr.write(`${command} takes no arguments, got: ${rest.join(" ")}\n`);
  usage(2);
}

switch (command) {
  case "check-config": {
    try {
      const config = loadConfig();
      const storage = config.databaseUrl ? "PostgreSQL" : "SQLite";
      process.stdout.write(
        `configuration ok: ${storage} at ${describeDatabase(config)}, port ${config.port}\n`,
      );
    } catch (error) {
      fail(error);
    }
    break;
  }
  case "migrate": {
    try {
      const config = loadConfig();
      await migrateStorage(config);
      process.stdout.write(`migrations applied: ${describeDatabase(config)}\n`);
    } catch (error) {
      fail(error);
    }
    break;
  }
  default:
    process.stderr.write(`unknown command: ${command}\n`);
    usage(2);
}
