/**
 * A thread's handle on the database writer thread (writer-thread.ts), which holds the one
 * connection that writes: the main thread's, which starts and closes it, or another thread's
 * (`over` a port from `connect`: the webhook sender's), whose calls join the same group commits. `run("createOrder", order)` sends a named operation of the op table the
 * thread was opened with and resolves with its result once the transaction holding it is durable;
 * an `AppError` thrown there (a 503) is rethrown here as the same `AppError`.
 *
 * Why a thread of its own: the main thread parses, validates and answers HTTP; executing the SQL
 * and writing the WAL take as long again. On one thread the two add up (the main thread at 100%);
 * on two they overlap, and intake rose (figures: docs/PERFORMANCE.md). Reads stay on the
 * main thread's own read-only connection: WAL lets them run while the writer commits, and a read
 * after an answered write sees it, because the answer is sent only after the commit.
 *
 * Calls made during one event-loop turn go in one message, and at most one message of calls is in
 * flight: while the writer works on one, the next fills up. The thread answers in one message per
 * turn too, so every call of a turn shares the cost of one message (figures: docs/PERFORMANCE.md).
 */
import type { SynchronousLevel } from "../../config.ts";
import { fromWireError, storageUnavailable, type WireError } from "../../kit/errors.ts";
import type { BatchStats } from "./write-batcher.ts";

/** Main thread -> writer thread (a "port" message carries a MessagePort for another thread's calls). */
export type ToWriter =
  | { type: "open"; path: string; synchronous: SynchronousLevel; opsModule: string }
  | { type: "calls"; calls: Call[] }
  | { type: "port"; port: MessagePort }
  | { type: "close" };

type Call = { id: number; op: string; args: unknown[] };

/** The answer to one call: its result, or the error it failed with, as plain data. */
export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** Writer thread -> main thread. */
export type FromWriter =
  | { type: "opened" }
  | { type: "failed"; message: string }
  // `batches`: the transactions committed since the last replies (for metrics), when there were any.
  | { type: "replies"; replies: Reply[]; batches?: BatchStats[] }
  | { type: "log"; message: string; error: string }
  | { type: "fatal"; message: string }
  | { type: "closed"; error?: string };

/** What the writer reports: log lines, and the one condition the process cannot go on after. */
export type WriterHooks = {
  log: (message: string, error: string) => void;
  /** The thread failed or ended without being closed; every waiting call was answered 503. */
  onFatal: (reason: string) => void;
  /** The batches the thread committed (calls, commit and fsync seconds), a message's worth at a time. */
  onBatches?: (batches: BatchStats[]) => void;
};

/** The latest write that committed and the latest refused, for readiness (epoch ms). */
export type WriteOutcomes = { succeededAt?: number; failed?: { at: number; message: string } };

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void };
/** Where calls are posted: the writer thread, or a MessagePort the thread answers on. */
type Endpoint = Worker | MessagePort;
type OpTable = Record<string, (...args: never[]) => unknown>;

const WRITER_URL = new URL("./writer-thread.ts", import.meta.url);

const gone = () => storageUnavailable("The database writer is not running; nothing was saved.");

/** Starts and talks to the writer thread; see the file comment. */
export class DatabaseWriter<Ops extends OpTable> {
  private readonly pending = new Map<number, Pending>();
  private outbox: Call[] = [];
  private nextId = 1;
  // Calls sent and not yet answered: while the writer works on one message, the next one fills up.
  private unanswered = 0;
  private opened: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private closed: ((error?: string) => void) | undefined;
  private running = true;
  private outcomes: WriteOutcomes = {};

  /**
   * Opens `path` on a new writer thread running the op table of `opsModule` (migrations must
   * already be applied); resolves once the thread's connection is open, rejects if it cannot be.
   */
  static async start<Ops extends OpTable>(
    options: { path: string; synchronous: SynchronousLevel; opsModule: URL },
    hooks: WriterHooks,
  ): Promise<DatabaseWriter<Ops>> {
    const worker = new Worker(WRITER_URL);
    const writer = new DatabaseWriter<Ops>(worker, hooks, worker);
    await new Promise<void>((resolve, reject) => {
      writer.opened = { resolve, reject };
      const { path, synchronous, opsModule } = options;
      worker.postMessage({ type: "open", path, synchronous, opsModule: opsModule.href } as ToWriter);
    });
    return writer;
  }

  /**
   * A handle for another thread of this process (the webhook sender's): its calls go to the same
   * writer thread, in the same group commits, over `port` (from the main thread's `connect`).
   */
  static over<Ops extends OpTable>(port: MessagePort, hooks: WriterHooks): DatabaseWriter<Ops> {
    return new DatabaseWriter<Ops>(port, hooks);
  }

  private constructor(
    private readonly endpoint: Endpoint,
    private readonly hooks: WriterHooks,
    private readonly thread?: Worker,
  ) {
    // Both take `onmessage` alike (their event types differ only in the DOM and Bun typings).
    (endpoint as MessagePort).onmessage = (event) => this.receive(JSON.parse(event.data) as FromWriter);
    if (!thread) return;
    thread.onerror = (event) => {
      hooks.log("database writer thread crashed", event.message);
      thread.terminate();
    };
    thread.addEventListener("close", () => this.exited("the writer thread exited"));
  }

  /**
   * A channel to the writer thread for another thread of this process: hand the returned port to
   * `DatabaseWriter.over` there (main thread's writer only).
   */
  connect(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    this.thread?.postMessage({ type: "port", port: port1 } satisfies ToWriter, [port1]);
    return port2;
  }

  /** Runs a write operation on the writer thread; resolves once it is durable. */
  run<K extends keyof Ops & string>(op: K, ...args: Parameters<Ops[K]>): Promise<ReturnType<Ops[K]>> {
    if (!this.running) return Promise.reject(gone());
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (this.outbox.length === 0 && this.unanswered === 0) setImmediate(() => this.flush());
      this.outbox.push({ id, op, args });
    });
  }

  /** When a write last committed and when one was last refused by the database (a 503). */
  lastOutcomes(): WriteOutcomes {
    return this.outcomes;
  }

  /**
   * Waits for every call so far to be durable, then closes the connection and ends the thread.
   * Rejects if the connection could not be closed cleanly (the calls were still answered).
   */
  async close(): Promise<void> {
    if (!this.running) return;
    if (!this.thread) {
      // Another thread's handle: the writer thread is the main thread's to close.
      this.exited("closed");
      (this.endpoint as MessagePort).close();
      return;
    }
    this.flush({ force: true });
    const error = await new Promise<string | undefined>((resolve) => {
      this.closed = resolve;
      this.endpoint.postMessage(JSON.stringify({ type: "close" } satisfies ToWriter));
    });
    this.running = false;
    this.thread.terminate();
    if (error) throw new Error(error);
  }

  /** Sends the waiting calls, unless a message is still unanswered (or `force`, on close). */
  private flush({ force = false } = {}): void {
    if (this.outbox.length === 0 || (this.unanswered > 0 && !force)) return;
    const calls = this.outbox;
    this.outbox = [];
    this.unanswered += calls.length;
    // As JSON text: see writer-thread.ts.
    this.endpoint.postMessage(JSON.stringify({ type: "calls", calls } satisfies ToWriter));
  }

  private receive(message: FromWriter): void {
    switch (message.type) {
      case "replies":
        for (const reply of message.replies) {
          this.unanswered--;
          const waiting = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          if (!waiting) continue;
          if (reply.ok) {
            this.outcomes.succeededAt = Date.now();
            waiting.resolve(reply.value);
          } else {
            if (reply.error.code === "STORAGE_UNAVAILABLE") {
              this.outcomes.failed = { at: Date.now(), message: reply.error.message };
            }
            waiting.reject(fromWireError(reply.error));
          }
        }
        this.flush();
        if (message.batches) this.reportBatches(message.batches);
        break;
      case "opened":
        this.opened?.resolve();
        this.opened = undefined;
        break;
      case "failed":
        this.opened?.reject(new Error(message.message));
        this.opened = undefined;
        this.running = false;
        this.thread?.terminate();
        break;
      case "log":
        this.hooks.log(message.message, message.error);
        break;
      case "fatal":
        this.thread?.terminate();
        this.exited(message.message);
        break;
      case "closed":
        this.closed?.(message.error);
        break;
    }
  }

  /** Hands the committed batches to the hook after the answers are settled: a failing hook delays none. */
  private reportBatches(batches: BatchStats[]): void {
    try {
      this.hooks.onBatches?.(batches);
    } catch (error) {
      this.hooks.log("the onBatches hook failed", String(error));
    }
  }

  private exited(reason: string): void {
    const unexpected = this.running;
    this.running = false;
    for (const waiting of this.pending.values()) waiting.reject(gone());
    this.pending.clear();
    this.opened?.reject(new Error(reason));
    this.closed?.(reason);
    if (unexpected) this.hooks.onFatal(reason);
  }
}
