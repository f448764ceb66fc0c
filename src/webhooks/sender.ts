/**
 * The main thread's side of the sender thread (sender-thread.ts), where the webhook sender runs:
 * it starts the thread with a webhooks port the storage adapter opens for it, tells it when events
 * may have been committed (at most once per WAKE_MS, however many commits) and when a subscription
 * was created, and stops it. A thread that dies is replaced, under a new owner name: the deliveries
 * it held are sent again once their leases run out (at least once, the same `webhook-id`).
 */
import type { Logger } from "../kit/logger.ts";
import type { FromSender, SenderSettings, ToSender } from "./sender-thread.ts";
import type { ThreadStoreOpener } from "./store.ts";

const SENDER_URL = new URL("./sender-thread.ts", import.meta.url);
// Pause before replacing a dead sender thread, so a thread that dies at start cannot spin the CPU.
const RESPAWN_DELAY_MS = 250;
// Wake-ups are posted at most this often: the sender pumps at most once per 10 ms anyway.
const WAKE_MS = 5;

/** What the sender thread is started with. */
export type SenderDeps = {
  settings: Omit<SenderSettings, "owner">;
  /** Opens a webhooks port for a new thread (storage's `webhooksForThread`). */
  openStore: () => ThreadStoreOpener;
  /** Calls back when events may have been committed (the events port's subscribe). */
  onEvents: (listener: () => void) => () => void;
  log: Logger;
};

/** The webhook sender on a thread of its own; see the file comment. */
export class SenderThread {
  #worker: Worker | undefined;
  #stopping = false;
  #unsubscribe: (() => void) | undefined;
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #wokenAt = 0;
  #stopped: (() => void) | undefined;

  constructor(private readonly deps: SenderDeps) {}

  start(): void {
    this.#unsubscribe = this.deps.onEvents(() => this.#wake());
    this.#spawn();
  }

  /** A subscription was created here: the sender looks at the outbox on the next events. */
  subscriptionsChanged(): void {
    this.#post({ type: "subscribed" });
  }

  /** Ends the thread as if it had crashed (tests): a new one takes its place. */
  kill(): void {
    this.#worker?.terminate();
  }

  /**
   * Stops claiming and waits up to `timeoutMs` for the attempts in flight and their records, then
   * ends the thread; attempts not recorded are sent again later.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe?.();
    clearTimeout(this.#wakeTimer);
    const worker = this.#worker;
    if (!worker) return;
    const stopped = new Promise<void>((resolve) => (this.#stopped = resolve));
    worker.postMessage({ type: "stop", timeoutMs } satisfies ToSender);
    // The records after the attempts get a second more; past that the thread is ended regardless.
    await Promise.race([stopped, Bun.sleep(timeoutMs + 1000)]);
    worker.terminate();
  }

  /** Posts a wake-up now, or once WAKE_MS has passed since the last one. */
  #wake(): void {
    if (this.#wakeTimer !== undefined) return;
    const wait = this.#wokenAt + WAKE_MS - Date.now();
    if (wait <= 0) {
      this.#wokenAt = Date.now();
      this.#post({ type: "wake" });
      return;
    }
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wokenAt = Date.now();
      this.#post({ type: "wake" });
    }, wait);
  }

  #post(message: ToSender): void {
    this.#worker?.postMessage(message);
  }

  #spawn(): void {
    const worker = new Worker(SENDER_URL, { smol: true });
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<FromSender>) => {
      const message = event.data;
      if (message.type === "log") this.deps.log(message.level, message.message, message.extra);
      else if (message.type === "stopped") this.#stopped?.();
      else {
        this.deps.log("error", "the webhook sender could not start", { error: message.error });
        worker.terminate();
      }
    };
    worker.onerror = (event) => {
      this.deps.log("error", "webhook sender thread crashed", { error: event.message });
      worker.terminate();
    };
    worker.addEventListener("close", () => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#stopped?.();
      if (this.#stopping) return;
      setTimeout(() => {
        if (!this.#stopping) this.#spawn();
      }, RESPAWN_DELAY_MS);
    });
    const { module, args, transfer } = this.deps.openStore();
    const settings = { ...this.deps.settings, owner: `webhooks-${crypto.randomUUID()}` };
    worker.postMessage({ type: "start", settings, store: { module, args } } satisfies ToSender, transfer);
  }
}
