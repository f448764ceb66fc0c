/**
 * Boot: config -> database + migrations -> app -> workers -> signals. Nothing else lives here.
 */
import { ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { createServer } from "./server.ts";

function loadConfigOrExit() {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`Invalid configuration: ${error.message}`);
    process.exit(1);
  }
}

const config = loadConfigOrExit();
const log = createLogger(config.logLevel);
const server = createServer(config, log);
server.start();

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
