/**
 * When the database counts as writable, for `/ready`: a write that committed recently is proof
 * enough, so `/ready` polled under load commits nothing of its own; a refused write keeps the
 * service not ready for a while, and longer while nothing has committed since. Why not a probe
 * alone: on a full disk the probe, which rewrites one existing page, can still commit while every
 * insert fails. Why not the real writes alone: an idle service (or one its load balancer took out)
 * would never notice that the disk is fine again. A store that does not track its writes
 * (PostgreSQL: many replicas write) is probed every time.
 */
import { storageUnavailable } from "../kit/errors.ts";
import type { SystemStore } from "./store.ts";

// A committed write this recent is proof enough.
const FRESH_MS = 1000;
// A refused write keeps the database not writable this long…
const HOLD_MS = 5000;
// …and this long at most while nothing has committed since.
const STICKY_MS = 30_000;

/** Resolves when the database takes writes; rejects with a 503 saying why not. */
export async function checkWritable(store: SystemStore, now: number): Promise<void> {
  const recent = store.recentWrites?.();
  if (!recent) return store.probeWrite();
  const { succeededAt = 0, failed } = recent;
  if (failed && (now - failed.at < HOLD_MS || (failed.at > succeededAt && now - failed.at < STICKY_MS))) {
    throw storageUnavailable(`a write failed ${now - failed.at} ms ago: ${failed.message}`);
  }
  if (now - succeededAt < FRESH_MS) return;
  await store.probeWrite();
}
