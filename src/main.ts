/**
 * Boot: config -> storage + migrations -> app -> workers -> signals. The only place that exits the
 * process: start-up failures, fatal conditions and the end of a shutdown all come here.
 */
import { type Config, loadConfig, StartupError } from "./config.ts";
import { createLogger, type Logger } from "./kit/logger.ts";
import { createServer, type Server } from "./server.ts";

/** Logs why the service cannot start, as one JSON line naming the setting, and exits 1. */
function failStart(log: Logger, error: unknown): never {
  if (error instanceof StartupError) {
    log("error", `cannot start: ${error.message}`, { setting: error.setting });
  } else {
    log("error", "cannot start", { error: error instanceof Error ? error.message : String(error) });
  }
  process.exit(1);
}

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  failStart(createLogger("info"), error);
}
const log = createLogger(config.logLevel);

let server: Server;
try {
  server = await createServer(config, log, {
    // The writer thread failed: no order was answered that is not committed, so exit and let the
    // supervisor restart the service, which takes up whatever was left processing.
    onFatal: (reason) => {
      log("error", "database writer stopped; exiting", { reason });
      process.exit(1);
    },
  });
  await server.start();
} catch (error) {
  failStart(log, error);
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log("info", "shutting down", { signal });
  try {
    await server.stop();
  } catch (error) {
    log("error", "shutdown failed; orders left processing are taken up at the next start", {
      error: String(error),
    });
    process.exit(1);
  }
  log("info", "stopped cleanly");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
