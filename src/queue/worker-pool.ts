/**
 * The worker threads: starts them, replaces one that dies, and carries orders to them and results
 * back. It knows nothing of claims, retries or storage; the dispatcher (dispatcher.ts) decides
 * those. Each thread is known by its `owner` id, which changes with every replacement, so a result
 * or a release can never be mistaken for another thread's.
 */
import type { AttemptResult, FromWorker, StepAnswer, StepOutcome, ToWorker } from "./messages.ts";
import type { ProcessingSettings, WorkOrder } from "./process-order.ts";

/** What the pool tells its user. */
export type PoolEvents = {
  /** A thread is up and can take orders. */
  ready: (owner: string, durable: boolean) => void;
  /** A thread finished some orders. */
  results: (owner: string, results: AttemptResult[]) => void;
  /** A thread completed steps of a module that exports `steps`: record them, then `answer`. */
  steps: (owner: string, steps: StepOutcome[]) => void;
  /** A thread ended unexpectedly; whatever it held is lost to it (a replacement comes shortly). */
  exited: (owner: string) => void;
};

type Thread = { index: number; owner: string; worker: Worker; ready: boolean };

const WORKER_URL = new URL("./worker.ts", import.meta.url);
// Pause before replacing a dead worker thread, so a thread that dies at start cannot spin the CPU.
const RESPAWN_DELAY_MS = 250;

/** A fixed number of processing threads; see the file comment. */
export class WorkerPool {
  private readonly threads: Thread[] = [];
  private readonly runId = crypto.randomUUID().slice(0, 8);
  private generation = 0;
  private stopping = false;
  private events: PoolEvents = { ready: () => {}, results: () => {}, steps: () => {}, exited: () => {} };

  constructor(
    private readonly options: { size: number; processing: ProcessingSettings },
    private readonly log: (message: string, extra: Record<string, unknown>) => void,
  ) {}

  /** Starts the threads, telling `events` what they do; each reports `ready` when it can take orders. */
  start(events: PoolEvents): void {
    this.events = events;
    for (let index = 0; index < this.options.size; index++) this.threads.push(this.spawn(index));
  }

  /** Owners of the threads that are up. */
  readyOwners(): string[] {
    return this.threads.filter((thread) => thread.ready).map((thread) => thread.owner);
  }

  /** How many threads are up, of how many there should be (for /ready). */
  health(): { ready: number; expected: number } {
    return { ready: this.readyOwners().length, expected: this.options.size };
  }

  /** Hands orders to the thread `owner`; false if that thread is gone. */
  send(owner: string, orders: WorkOrder[]): boolean {
    const thread = this.threads.find((t) => t.owner === owner && t.ready);
    if (!thread) return false;
    thread.worker.postMessage({ type: "process", orders } satisfies ToWorker);
    return true;
  }

  /** Tells thread `owner` whether the steps it reported were recorded (if it is still there). */
  answer(owner: string, answers: StepAnswer[]): void {
    const thread = this.threads.find((t) => t.owner === owner);
    thread?.worker.postMessage({ type: "recorded", answers } satisfies ToWorker);
  }

  /** Tells every thread to abort what it is running (shutdown ran out of time). */
  abort(): void {
    for (const thread of this.threads) thread.worker.postMessage({ type: "abort" } satisfies ToWorker);
  }

  /** Aborts the signals of these attempts on thread `owner` (their claims were lost). */
  cancel(owner: string, orderIds: string[], reason: string): void {
    const thread = this.threads.find((t) => t.owner === owner);
    thread?.worker.postMessage({ type: "cancel", orderIds, reason } satisfies ToWorker);
  }

  /** Ends a thread as if it had crashed: by index (tests) or owner (an unresponsive thread). */
  kill(which: number | string): void {
    const thread =
      typeof which === "number" ? this.threads[which] : this.threads.find((t) => t.owner === which);
    if (thread) this.end(thread);
  }

  /** Ends every thread, waiting (briefly) until they are gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    const closed = this.threads.map(
      (thread) => new Promise((resolve) => thread.worker.addEventListener("close", resolve)),
    );
    for (const thread of this.threads) thread.worker.terminate();
    await Promise.race([Promise.all(closed), Bun.sleep(1000)]);
  }

  private spawn(index: number): Thread {
    // A small JS heap: with the default large one the four threads collected so lazily that the
    // process's peak RSS in the end-to-end benchmark was nearly twice as high, for the same
    // throughput (figures: docs/PERFORMANCE.md).
    const worker = new Worker(WORKER_URL, { smol: true });
    const thread: Thread = {
      index,
      owner: `${this.runId}/w${index}.${++this.generation}`,
      worker,
      ready: false,
    };
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.type === "ready") {
        thread.ready = true;
        this.events.ready(thread.owner, message.durable);
      } else if (message.type === "done") {
        this.events.results(thread.owner, message.results);
      } else if (message.type === "steps") {
        this.events.steps(thread.owner, message.steps);
      } else {
        this.log("processOrder ignored its abort past the deadline; replacing the worker thread", {
          worker: thread.owner,
          order: message.orderId,
        });
        this.end(thread);
      }
    };
    worker.onerror = (event) => {
      this.log("worker thread crashed", { worker: thread.owner, error: event.message });
      worker.terminate();
    };
    worker.addEventListener("close", () => this.replace(thread));
    worker.postMessage({ type: "init", settings: this.options.processing } satisfies ToWorker);
    return thread;
  }

  /** Ends a thread now; it takes no more orders meanwhile (its close event comes later). */
  private end(thread: Thread): void {
    thread.ready = false;
    thread.worker.terminate();
  }

  /** A thread ended: report it and, unless stopping, start another in its place. */
  private replace(thread: Thread): void {
    thread.ready = false;
    if (this.stopping) return;
    this.events.exited(thread.owner);
    setTimeout(() => {
      if (!this.stopping) this.threads[thread.index] = this.spawn(thread.index);
    }, RESPAWN_DELAY_MS);
  }
}

/** What the dispatcher uses of the pool: a pool, or, in its unit tests, a stand-in. */
export type Workers = Pick<
  WorkerPool,
  "start" | "readyOwners" | "health" | "send" | "answer" | "cancel" | "abort" | "kill" | "stop"
>;
