/**
 * The SQLite writer's group commits (the PostgreSQL adapter reports none): calls per transaction,
 * the transaction's time and the fsync's. Measured on the writer thread and carried to the main
 * thread with the answers of the calls (no message of their own), then observed here, so they count
 * the writer thread's work.
 */
import { Histogram, type Registry } from "prom-client";

/** One committed batch, as the storage adapter reports it (seconds). */
export type Batch = { size: number; commitSeconds: number; fsyncSeconds?: number };

// A commit or an fdatasync: tens of microseconds to a few milliseconds; a slow disk or a
// checkpoint: more (this machine's: docs/PERFORMANCE.md).
const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const CALLS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/** The writer's histograms; the returned function records a message's worth of batches. */
export function createWriteMetrics(registry: Registry): (batches: readonly Batch[]) => void {
  const registers = [registry];
  const size = new Histogram({
    name: "db_write_batch_size",
    help: "Write calls committed together in one transaction by the database writer (group commit)",
    buckets: CALLS,
    registers,
  });
  const commit = new Histogram({
    name: "db_write_commit_duration_seconds",
    help: "One batch's transaction on the writer thread: BEGIN IMMEDIATE, its writes, COMMIT",
    buckets: SECONDS,
    registers,
  });
  const fsync = new Histogram({
    name: "db_write_fsync_duration_seconds",
    help: "The fdatasync of the WAL after each commit (only when SQLITE_SYNCHRONOUS is FULL or EXTRA)",
    buckets: SECONDS,
    registers,
  });
  return (batches) => {
    for (const batch of batches) {
      size.observe(batch.size);
      commit.observe(batch.commitSeconds);
      if (batch.fsyncSeconds !== undefined) fsync.observe(batch.fsyncSeconds);
    }
  };
}
