/**
 * The file a backup writes, on either adapter: created exclusively, so a backup never overwrites a
 * file (an earlier backup, the database itself) and two backups never write one file; synced with
 * its folder once written, so a backup the command reported survives a power cut.
 */
import { closeSync, fsyncSync, openSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";

/** Thrown when the backup's target already exists. */
export class BackupTargetExistsError extends Error {}

/**
 * Creates `target` empty, or throws `BackupTargetExistsError`; then runs `write` into it and syncs
 * it, removing the partial file if `write` throws.
 */
export async function writeBackupFile<T>(target: string, write: () => T | Promise<T>): Promise<T> {
  try {
    closeSync(openSync(target, "wx"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new BackupTargetExistsError(`${target} already exists; a backup never overwrites a file`);
    throw error;
  }
  try {
    const result = await write();
    syncPath(target);
    syncPath(dirname(target));
    return result;
  } catch (error) {
    unlinkSync(target);
    throw error;
  }
}

function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
