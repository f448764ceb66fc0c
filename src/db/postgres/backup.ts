/**
 * A backup of the PostgreSQL database: `pg_dump --format=custom` of DATABASE_URL into a new file,
 * one consistent snapshot (pg_dump reads in one repeatable-read transaction and blocks no writer),
 * restored with `pg_restore` (docs/OPERATING.md, "Backups and restore"). The password goes to
 * pg_dump in PGPASSWORD, not on its command line, where any user of the machine could read it.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeBackupFile } from "../../kit/backup-file.ts";
import { redact } from "./client.ts";

const DEBIAN_BINARIES = "/usr/lib/postgresql";

/**
 * The path of a PostgreSQL client program: on PATH, else the newest under /usr/lib/postgresql/<n>/bin
 * (Debian's layout, where PATH may hold only some). Undefined when there is none.
 */
export function findPostgresProgram(name: string): string | undefined {
  const onPath = Bun.which(name);
  if (onPath) return onPath;
  if (!existsSync(DEBIAN_BINARIES)) return undefined;
  const versions = readdirSync(DEBIAN_BINARIES)
    .filter((version) => /^\d+$/.test(version))
    .sort((a, b) => Number(b) - Number(a));
  return versions.map((version) => join(DEBIAN_BINARIES, version, "bin", name)).find(existsSync);
}

/** Runs a client program; resolves when it exits 0, else throws with what it wrote to stderr. */
async function run(argv: string[], env: Record<string, string>): Promise<string> {
  const proc = Bun.spawn(argv, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`${argv[0]} exited ${code}: ${stderr.trim()}`);
  return stdout;
}

/**
 * Dumps the database at `url` into the new file `target` with pg_dump's custom format, then reads
 * the archive's table of contents back with pg_restore --list to check that it holds the orders.
 * Refuses a target that exists; removes a partial file when it fails.
 */
export async function dumpPostgres(url: string, target: string): Promise<{ bytes: number }> {
  const pgDump = findPostgresProgram("pg_dump");
  const pgRestore = findPostgresProgram("pg_restore");
  if (!pgDump || !pgRestore)
    throw new Error("pg_dump and pg_restore are needed: install PostgreSQL's client programs");
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = "";
  const env: Record<string, string> = password ? { PGPASSWORD: password } : {};
  return writeBackupFile(target, async () => {
    try {
      await run([pgDump, "--format=custom", `--file=${target}`, `--dbname=${parsed.href}`], env);
    } catch (error) {
      // pg_dump's own message names the server, never the password (it was not given one).
      throw new Error(`pg_dump of ${redact(url)} failed: ${(error as Error).message}`);
    }
    const contents = await run([pgRestore, "--list", target], {});
    if (!/TABLE DATA \S+ orders /.test(contents))
      throw new Error(`the dump of ${redact(url)} holds no orders table: is it the service's database?`);
    return { bytes: statSync(target).size };
  });
}
