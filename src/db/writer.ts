/**
 * The main thread's handle on the database writer thread (db/writer-thread.ts), which holds the one
 * connection that writes. `run("createOrder", order)` sends a write operation of `writes.ts` and
 * resolves with its result once the transaction holding it is durable; an `AppError` thrown there
 * (404, 409, 503) is rethrown here as the same `AppError`.
 *
 * Why a thread of its own: the main thread parses, validates and answers HTTP; executing the SQL
 * and writing the WAL take as long again. On one thread the two add up (measured here: ~27,000
 * orders/s with the main thread at 100%); on two they overlap (~40,000/s). Reads stay on the main
 * thread's own connection: WAL lets them run while the writer commits, and a read after an answered
 * write sees it, because the answer is sent only after the commit.
 *
 * Calls made during one event-loop turn go in one message; the thread answers in one message per
 * turn too, so messaging costs ~2 µs per call.
 */
import type { SynchronousLevel } from "../config.ts";
import { AppError } from "../errors.ts";
import type { WriteOps } from "../writes.ts";

/** Main thread -> writer thread. */
export type ToWriter =
  | { type: "open"; path: string; synchronous: SynchronousLevel }
  | { type: "calls"; calls: { id: number; op: keyof WriteOps; args: unknown[] }[] }
  | { type: "close" };

/** The answer to one call: its result, or the `AppError` it failed with, as plain data. */
export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { status: number; code: string; message: string; details?: unknown } };

/** Writer thread -> main thread. */
export type FromWriter =
  | { type: "failed"; message: string }
  | { type: "replies"; replies: Reply[] }
  | { type: "log"; message: string; error: string }
  | { type: "closed" };

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void };

const WRITER_URL = new URL("./writer-thread.ts", import.meta.url);

const gone = () =>
  new AppError(503, "STORAGE_UNAVAILABLE", "The database writer is not running; nothing was saved.");

/** Starts and talks to the writer thread; see the file comment. */
export class DatabaseWriter {
  private readonly worker = new Worker(WRITER_URL);
  private readonly pending = new Map<number, Pending>();
  private outbox: { id: number; op: keyof WriteOps; args: unknown[] }[] = [];
  private nextId = 1;
  // Calls sent and not yet answered: while the writer works on one message, the next one fills up.
  private unanswered = 0;
  private closed: (() => void) | undefined;
  private running = true;

  /**
   * Opens `path` on a new writer thread (migrations must already be applied). `onExit` is called
   * if the thread ends without being closed; every call still waiting is then rejected with a 503.
   */
  constructor(
    path: string,
    synchronous: SynchronousLevel,
    private readonly hooks: {
      log: (message: string, error: string) => void;
      onExit: (reason: string) => void;
    },
  ) {
    this.worker.onmessage = (event: MessageEvent<FromWriter>) => this.receive(event.data);
    this.worker.onerror = (event) => {
      hooks.log("database writer thread crashed", event.message);
      this.worker.terminate();
    };
    this.worker.addEventListener("close", () => this.exited("the writer thread exited"));
    this.post({ type: "open", path, synchronous });
  }

  /** Runs a write operation on the writer thread; resolves once it is durable. */
  run<K extends keyof WriteOps>(op: K, ...args: Parameters<WriteOps[K]>): Promise<ReturnType<WriteOps[K]>> {
    if (!this.running) return Promise.reject(gone());
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (this.outbox.length === 0 && this.unanswered === 0) setImmediate(() => this.flush());
      this.outbox.push({ id, op, args });
    });
  }

  /** Waits for every call so far to be durable, then closes the connection and ends the thread. */
  async close(): Promise<void> {
    if (!this.running) return;
    this.flush({ force: true });
    const closed = new Promise<void>((resolve) => {
      this.closed = resolve;
    });
    this.post({ type: "close" });
    await closed;
    this.running = false;
    this.worker.terminate();
  }

  /** Sends the waiting calls, unless a message is still unanswered (or `force`, on close). */
  private flush({ force = false } = {}): void {
    if (this.outbox.length === 0 || (this.unanswered > 0 && !force)) return;
    const calls = this.outbox;
    this.outbox = [];
    this.unanswered += calls.length;
    this.post({ type: "calls", calls });
  }

  private post(message: ToWriter): void {
    this.worker.postMessage(message);
  }

  private receive(message: FromWriter): void {
    switch (message.type) {
      case "replies":
        for (const reply of message.replies) {
          this.unanswered--;
          const waiting = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          if (!waiting) continue;
          if (reply.ok) waiting.resolve(reply.value);
          else {
            const { status, code, message: text, details } = reply.error;
            waiting.reject(new AppError(status, code, text, details));
          }
        }
        this.flush();
        break;
      case "log":
        this.hooks.log(message.message, message.error);
        break;
      case "failed":
        this.hooks.log("the database writer could not open the database", message.message);
        this.worker.terminate();
        break;
      case "closed":
        this.closed?.();
        break;
    }
  }

  private exited(reason: string): void {
    const unexpected = this.running;
    this.running = false;
    for (const waiting of this.pending.values()) waiting.reject(gone());
    this.pending.clear();
    this.closed?.();
    if (unexpected) this.hooks.onExit(reason);
  }
}
