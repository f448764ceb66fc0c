/**
 * An online backup of the SQLite file while the service takes orders: `VACUUM INTO` on a read-only
 * connection of this process. The service locks `<db>.lock`, not the database (file-lock.ts), so
 * another process may read; in WAL mode a reader holds a snapshot and never blocks the writer, so
 * intake goes on while the copy is written (the WAL grows meanwhile: no checkpoint can pass the
 * reader's snapshot). The copy is one consistent snapshot: every commit before the read began, none
 * after. Bun exposes no sqlite3_backup API (only serialize, which copies into memory); VACUUM INTO
 * writes a compact file page by page.
 */
import { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import { writeBackupFile } from "../../kit/backup-file.ts";

/** What a backup wrote: its size and the orders it holds. */
export type SqliteBackup = { bytes: number; orders: number };

/**
 * Copies the database at `path` into the new file `target` and checks the copy (integrity_check).
 * Refuses a target that exists (`BackupTargetExistsError`); removes a partial copy when it fails.
 */
export async function backupSqlite(path: string, target: string): Promise<SqliteBackup> {
  return writeBackupFile(target, () => {
    const source = new Database(path, { readonly: true });
    try {
      // A reader never waits for the writer's commits; the timeout covers a checkpoint or a
      // recovery in progress as this connection opens.
      source.run("PRAGMA busy_timeout = 5000");
      // VACUUM INTO accepts the empty file writeBackupFile created.
      source.run("VACUUM INTO ?", [target]);
    } finally {
      source.close();
    }
    return { bytes: statSync(target).size, orders: checkBackup(target) };
  });
}

/** Runs `PRAGMA integrity_check` on the copy (throws unless "ok"); the orders it holds. */
function checkBackup(target: string): number {
  const copy = new Database(target, { readonly: true });
  try {
    const rows = copy.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
    const verdict = rows.map((row) => row.integrity_check).join("; ");
    if (verdict !== "ok") throw new Error(`the backup failed its integrity check: ${verdict}`);
    return (copy.query("SELECT count(*) AS n FROM orders").get() as { n: number }).n;
  } finally {
    copy.close();
  }
}
