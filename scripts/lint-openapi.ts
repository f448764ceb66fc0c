/**
 * `bun run lint:openapi`: lints the OpenAPI document the service publishes with Redocly's CLI
 * (rules in redocly.yaml) and exits non-zero on any error. The app is built in-process on stub
 * storage ports (the document needs no database); both variants are linted: as served with the
 * default configuration (API keys off) and with API keys on (and a rate limit).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { servedDocument } from "./openapi-json.ts";

const ROOT = join(import.meta.dir, "..");

const served = await servedDocument();
const withKeys = await servedDocument({ API_KEYS: "lint-key-0123456789abcdef", RATE_LIMIT_PER_S: "100" });

const dir = mkdtempSync(join(tmpdir(), "openapi-lint-"));
try {
  const files = [
    ["openapi.json", served],
    ["openapi-api-keys.json", withKeys],
  ].map(([name, document]) => {
    const file = join(dir, name as string);
    writeFileSync(file, JSON.stringify(document, null, 2));
    return file;
  });
  const cli = join(dirname(fileURLToPath(import.meta.resolve("@redocly/cli/package.json"))), "bin/cli.js");
  // Run by Bun (the CLI's shebang asks for node); no telemetry and no update check: no network.
  const lint = Bun.spawnSync(
    [process.execPath, cli, "lint", "--config", join(ROOT, "redocly.yaml"), "--format", "stylish", ...files],
    {
      cwd: ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
      stdout: "inherit",
      stderr: "inherit",
    },
  );
  process.exitCode = lint.exitCode ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
