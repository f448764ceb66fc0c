/**
 * What every port of the SQLite adapter shares (storage.ts builds it once): the writer thread that
 * runs every write, the reads prepared on the main thread's read-only connection, and this
 * process's event subscribers, whom the writer wakes after each commit.
 */
import type { createReads } from "./reads.ts";
import type { createWebhookReads } from "./webhook-reads.ts";
import type { DatabaseWriter } from "./writer.ts";
import type { WriteOps } from "./writes.ts";

/** The adapter's shared parts; see the file comment. */
export type Adapter = {
  /** Runs the named operations of writes.ts on the writer thread, in group commits. */
  writer: DatabaseWriter<WriteOps>;
  reads: ReturnType<typeof createReads>;
  webhookReads: ReturnType<typeof createWebhookReads>;
  /** This process's event subscribers (the events port adds and removes them). */
  eventListeners: Set<() => void>;
};
