/**
 * The main thread's side of the sender thread (sender-thread.ts): `send(delivery)` is the attempt
 * the webhook sender (deliverer.ts) is given. Attempts started in one turn travel in one message,
 * and their results come back the same way. If the thread dies, the attempts it held end as failed
 * attempts (sent again after their backoff: at least once) and a new thread takes its place.
 */
import type { Logger } from "../kit/logger.ts";
import type { DeliveryResult } from "./send.ts";
import type { FromSender, ToSender } from "./sender-thread.ts";
import type { DueDelivery } from "./store.ts";
import type { UrlPolicy } from "./url-policy.ts";

const SENDER_URL = new URL("./sender-thread.ts", import.meta.url);
// Pause before replacing a dead sender thread, so a thread that dies at start cannot spin the CPU.
const RESPAWN_DELAY_MS = 250;

/** Attempts made on a thread of their own; see the file comment. */
export class SenderThread {
  #worker: Worker | undefined;
  #next = 1;
  readonly #waiting = new Map<number, (result: DeliveryResult) => void>();
  #outbox: { id: number; delivery: DueDelivery }[] = [];
  #stopped = false;

  constructor(
    private readonly settings: { timeoutMs: number; policy: UrlPolicy },
    private readonly log: Logger,
  ) {
    this.#spawn();
  }

  /** Makes one attempt of `delivery` on the thread; never rejects. */
  readonly send = (delivery: DueDelivery): Promise<DeliveryResult> =>
    new Promise((resolve) => {
      if (this.#stopped) {
        resolve({ ok: false, error: "the sender is stopping", durationMs: 0 });
        return;
      }
      const id = this.#next++;
      this.#waiting.set(id, resolve);
      if (this.#outbox.length === 0) setImmediate(() => this.#flush());
      this.#outbox.push({ id, delivery });
    });

  /** Ends the thread as if it had crashed (tests): a new one takes its place. */
  kill(): void {
    this.#worker?.terminate();
  }

  /** Ends the thread; attempts still waiting end as failed ones. */
  stop(): void {
    this.#stopped = true;
    this.#worker?.terminate();
    this.#outbox = [];
    this.#failWaiting("the sender stopped");
  }

  /** Sends this turn's attempts; without a thread (one is being replaced) they wait for the next. */
  #flush(): void {
    if (!this.#worker || this.#outbox.length === 0) return;
    const attempts = this.#outbox;
    this.#outbox = [];
    this.#worker.postMessage({ type: "attempt", attempts } satisfies ToSender);
  }

  #spawn(): void {
    const worker = new Worker(SENDER_URL, { smol: true });
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<FromSender>) => {
      for (const { id, result } of event.data.results) {
        this.#waiting.get(id)?.(result);
        this.#waiting.delete(id);
      }
    };
    worker.onerror = (event) => {
      this.log("error", "webhook sender thread crashed", { error: event.message });
      worker.terminate();
    };
    worker.addEventListener("close", () => {
      this.#worker = undefined;
      if (this.#stopped) return;
      this.#failWaiting("the sender thread stopped");
      setTimeout(() => {
        if (!this.#stopped) this.#spawn();
      }, RESPAWN_DELAY_MS);
    });
    worker.postMessage({ type: "settings", ...this.settings } satisfies ToSender);
    this.#flush();
  }

  /**
   * The attempts the thread held end as failed attempts (sent again after their backoff); those
   * not yet sent to it wait for the next thread.
   */
  #failWaiting(error: string): void {
    const unsent = new Set(this.#outbox.map((attempt) => attempt.id));
    for (const [id, resolve] of this.#waiting) {
      if (unsent.has(id)) continue;
      resolve({ ok: false, error, durationMs: 0 });
      this.#waiting.delete(id);
    }
  }
}
