/**
 * Group commit: the one place that owns batching of database writes. It runs on the writer thread
 * (writer-thread.ts), which has nothing else to do, so it may block on the disk.
 *
 * Every write of the SQLite adapter (new orders, cancels, retries, claims, completions, failures,
 * their events, webhooks and deliveries) is a synchronous job handed to `run`. Jobs queued during
 * one event-loop turn run together in a single `BEGIN IMMEDIATE` transaction at the end of that
 * turn, so N writes share one commit and one fsync. Why: one FULL commit per request is bound by
 * the fsync (the naive reference of `bun run bench`); sharing commits, the whole service takes
 * several times as many orders a second on the same machine (figures: docs/PERFORMANCE.md).
 *
 * Durability: a job's promise settles only after its transaction is on disk, so a 201 is never sent
 * for an order a crash or a power cut could still lose. With `SQLITE_SYNCHRONOUS=FULL` (the
 * default) the connection runs `synchronous=NORMAL` and the batcher fsyncs the WAL itself after
 * each commit, before settling: the same guarantee as SQLite's FULL (acknowledged means fsynced).
 * The fsync blocks this thread on purpose: the calls that arrive meanwhile make the next batch
 * larger, so there are fewer commits and fsyncs per order: intake was higher than with the fsync
 * on Bun's thread pool overlapping the next commit (figures: docs/PERFORMANCE.md).
 *
 * Failures: if the transaction fails, every job in it is rolled back and rejected with a 503:
 * exactly the requests of that batch fail, and nothing is half-written. If the fsync fails, the
 * batch is rejected with a 503 too (it may or may not survive a power cut; a retry with the same
 * `order_id` is safe). A job that throws an `AppError` is a client error decided inside the batch
 * and fails only its own request (jobs check before they write, so it wrote nothing).
 */
import { AppError, storageUnavailable } from "../../kit/errors.ts";
import type { Db } from "./client.ts";

type Job<T> = { work: () => T; resolve: (value: T) => void; reject: (error: unknown) => void };
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * One committed batch, for metrics: its calls, the transaction's time (BEGIN IMMEDIATE, the calls'
 * SQL, COMMIT) and the fsync's after it (absent when the batcher does not sync), in seconds.
 */
export type BatchStats = { size: number; commitSeconds: number; fsyncSeconds?: number };

/**
 * Options of a batcher: `fsync` makes each commit durable (it blocks) before its jobs settle;
 * `onBatch` hears of each batch committed (and synced) before its jobs settle.
 */
export type WriteBatcherOptions = {
  fsync?: () => void;
  log?: (message: string, error: unknown) => void;
  onBatch?: (batch: BatchStats) => void;
};

/** Runs write jobs in shared transactions; see the file comment. */
export class WriteBatcher {
  private queue: Job<unknown>[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Db,
    private readonly options: WriteBatcherOptions = {},
  ) {}

  /** Queues a synchronous write; resolves with its result once the batch holding it is durable. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve, reject } as Job<unknown>);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits and syncs everything queued so far; normally called by the scheduled end-of-turn flush. */
  flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    if (jobs.length === 0) return;
    this.queue = [];
    // Two clock reads per batch (not per call): next to nothing beside the commit they time.
    const started = performance.now();
    const outcomes = this.commit(jobs);
    if (!outcomes) return;
    const committed = performance.now();
    const { fsync, onBatch } = this.options;
    try {
      fsync?.();
    } catch (error) {
      this.options.log?.("fsync of the WAL failed; the batch is answered 503", error);
      const failure = storageUnavailable(
        "The order may not have been saved durably. Retry with the same order_id.",
      );
      for (const job of jobs) job.reject(failure);
      return;
    }
    onBatch?.({
      size: jobs.length,
      commitSeconds: (committed - started) / 1000,
      fsyncSeconds: fsync ? (performance.now() - committed) / 1000 : undefined,
    });
    for (const [i, job] of jobs.entries()) settleJob(job, outcomes[i]);
  }

  /** Runs the jobs in one transaction; on failure rejects them all and returns undefined. */
  private commit(jobs: Job<unknown>[]): Outcome[] | undefined {
    const outcomes: Outcome[] = [];
    try {
      this.db.transaction(
        () => {
          for (const job of jobs) {
            try {
              outcomes.push({ ok: true, value: job.work() });
            } catch (error) {
              if (!(error instanceof AppError)) throw error;
              outcomes.push({ ok: false, error });
            }
          }
        },
        { behavior: "immediate" },
      );
      return outcomes;
    } catch (error) {
      this.options.log?.("batch commit failed; every write in it was rolled back", error);
      const failure = storageUnavailable(
        "The order could not be stored; nothing was saved. Retry the request.",
      );
      for (const job of jobs) job.reject(failure);
      return undefined;
    }
  }
}

function settleJob(job: Job<unknown>, outcome: Outcome | undefined): void {
  if (outcome?.ok) job.resolve(outcome.value);
  else job.reject(outcome?.error);
}
