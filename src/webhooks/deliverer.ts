/**
 * The webhook sender: claims due deliveries from the outbox, POSTs each signed event to its
 * subscriber (send.ts) and records the outcome: delivered on a 2xx, else retried with capped
 * exponential backoff and full jitter, dead after `maxAttempts`. It runs on the main thread's event
 * loop beside the HTTP server, never on the request path nor on the order workers: requests only
 * commit events, and a slow or dead receiver only holds one of this sender's `concurrency` slots.
 *
 * Delivery is at least once: an attempt whose outcome could not be recorded (a crash, a lost
 * database) is sent again once its claim's lease runs out, with the same `webhook-id`. Deliveries
 * run concurrently and are retried independently, so they are not ordered; receivers order by the
 * event's `seq`.
 */

import { toEventView } from "../events/model.ts";
import type { Logger } from "../logger.ts";
import type { OrderEvent } from "../order.ts";
import { retryDelayMs } from "../queue/backoff.ts";
import { sendWebhook } from "./send.ts";
import type { DeliveryOutcome, DueDelivery, WebhookStore } from "./store.ts";
import type { UrlPolicy } from "./url-policy.ts";

/** What the sender needs. */
export type DelivererDeps = {
  store: WebhookStore;
  /** Calls back when events may have been committed (the events port's subscribe). */
  onEvents: (listener: () => void) => () => void;
  now: () => number;
  /** This process's name in claims (fencing between replicas). */
  owner: string;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  concurrency: number;
  policy: UrlPolicy;
  log: Logger;
};

// A pass over the outbox at least this often (retries falling due, another replica's events, a
// lost wake-up), and at most once per WAKE_MS however many events commit.
const POLL_MS = 1000;
const WAKE_MS = 10;
// How many rounds of `concurrency` attempts one claim takes at most.
const CLAIM_DEPTH = 4;

/** The JSON body of a webhook: the Standard Webhooks payload shape, `data` being the event. */
export function webhookPayload(event: OrderEvent): string {
  return JSON.stringify({
    type: `order.${event.type}`,
    timestamp: new Date(event.at).toISOString(),
    data: toEventView(event),
  });
}

export class WebhookDeliverer {
  #inFlight = new Set<Promise<void>>();
  #outcomes: DeliveryOutcome[] = [];
  #pumping = false;
  #again = false;
  #stopped = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unsubscribe: (() => void) | undefined;
  #lastPumpAt = 0;
  #timerAt = 0;
  // Claimed, not yet started: up to CLAIM_DEPTH × concurrency, so a pump claims in batches.
  #queue: DueDelivery[] = [];
  #flushing: Promise<void> | undefined;
  // Whether any subscription exists (read at each pass): without one, committed events wake nothing.
  #subscribed = false;

  constructor(private readonly deps: DelivererDeps) {}

  start(): void {
    this.#stopped = false;
    this.#unsubscribe = this.deps.onEvents(() => this.#wake());
    this.#schedule(0);
  }

  /** Stops claiming and waits up to `timeoutMs` for the attempts in flight; unrecorded ones are sent again later. */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // Claimed but not started: their leases lapse and they are sent later (by this process after a
    // restart, or by another replica).
    this.#queue = [];
    await Promise.race([Promise.all(this.#inFlight), Bun.sleep(timeoutMs)]);
    await this.#flushing;
    await this.#record();
  }

  /** A subscription was created here: look at the outbox on the next events. */
  subscriptionsChanged(): void {
    this.#subscribed = true;
    this.#wake();
  }

  #wake(): void {
    if (this.#stopped || !this.#subscribed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#schedule(Math.max(0, this.#lastPumpAt + WAKE_MS - Date.now()));
  }

  /** Pumps in `delayMs`, or sooner if a pump is already due sooner. */
  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    const at = Date.now() + delayMs;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#pump();
    }, delayMs);
  }

  /** Claims what is due for the free slots and starts sending it. */
  async #pump(): Promise<void> {
    if (this.#pumping || this.#stopped) return;
    this.#pumping = true;
    this.#again = false;
    let nextInMs = POLL_MS;
    try {
      this.#subscribed = (await this.deps.store.listWebhooks({ limit: 1 })).length > 0;
      // No subscription, no delivery (deleting one deletes its deliveries): one read a second.
      const next = this.#subscribed ? await this.deps.store.nextDeliveryAt() : null;
      const now = this.deps.now();
      const room = CLAIM_DEPTH * this.deps.concurrency - this.#inFlight.size - this.#queue.length;
      if (next !== null && next <= now && room >= this.deps.concurrency) {
        // An attempt ends by its timeout and is recorded right after; a delivery may wait in the
        // queue behind CLAIM_DEPTH - 1 rounds of attempts first. A claim held past that belongs to
        // a sender that is gone (another replica's lost process), and is sent again.
        const leaseUntil = now + (CLAIM_DEPTH + 1) * this.deps.timeoutMs + 1000;
        const due = await this.deps.store.claimDeliveries({
          owner: this.deps.owner,
          limit: room,
          now,
          leaseUntil,
        });
        this.#queue.push(...due);
        this.#fill();
        if (due.length === room) nextInMs = WAKE_MS;
      } else if (next !== null && next > now) {
        nextInMs = Math.min(POLL_MS, next - now);
      }
    } catch (error) {
      this.deps.log("error", "webhook outbox unavailable", { error: String(error) });
    } finally {
      this.#pumping = false;
      this.#lastPumpAt = Date.now();
      this.#schedule(this.#again ? WAKE_MS : nextInMs);
    }
  }

  /** Starts queued deliveries while slots are free; claims more when the queue runs low. */
  #fill(): void {
    while (this.#inFlight.size < this.deps.concurrency && this.#queue.length > 0 && !this.#stopped) {
      const delivery = this.#queue.shift() as DueDelivery;
      const sent = this.#attempt(delivery).finally(() => {
        this.#inFlight.delete(sent);
        this.#fill();
      });
      this.#inFlight.add(sent);
    }
    if (this.#queue.length < this.deps.concurrency && !this.#pumping) this.#schedule(WAKE_MS);
  }

  async #attempt(delivery: DueDelivery): Promise<void> {
    const { deps } = this;
    const result = await sendWebhook({
      url: delivery.url,
      secret: delivery.secret,
      // The message id: the same on every attempt and redelivery, so receivers can drop duplicates.
      id: `msg_${delivery.seq}`,
      timestamp: new Date(deps.now()),
      body: webhookPayload(delivery.event),
      timeoutMs: deps.timeoutMs,
      policy: deps.policy,
    });
    const at = deps.now();
    const { seq } = delivery;
    const owner = deps.owner;
    const attempt = delivery.attempts + 1;
    const status = result.status ?? null;
    const error = result.error ?? `HTTP ${status}`;
    if (result.ok) this.#outcomes.push({ kind: "delivered", seq, owner, at, status: status ?? 200 });
    else if (attempt >= deps.maxAttempts) {
      this.#outcomes.push({ kind: "dead", seq, owner, at, error, status });
      deps.log("warn", "webhook delivery dead", { delivery: seq, webhook: delivery.webhookId, error });
    } else {
      const nextAttemptAt = at + retryDelayMs(attempt, deps.retryBaseMs);
      this.#outcomes.push({ kind: "retry", seq, owner, at, nextAttemptAt, error, status });
    }
    // The outcomes of attempts ending together are recorded in one call, one call at a time:
    // while a call is out, later outcomes wait for the next.
    this.#flushing ??= this.#recordAll().finally(() => {
      this.#flushing = undefined;
    });
  }

  /** Records outcomes, one call at a time, until none is left. */
  async #recordAll(): Promise<void> {
    await Promise.resolve();
    while (this.#outcomes.length > 0) await this.#record();
  }

  /** Records the outcomes gathered so far in one call. */
  async #record(): Promise<void> {
    const outcomes = this.#outcomes.splice(0);
    if (outcomes.length === 0) return;
    try {
      await this.deps.store.settleDeliveries(outcomes);
    } catch (error) {
      // Not recorded: the claims lapse and the deliveries are sent again (at least once).
      this.deps.log("error", "could not record webhook outcomes", { error: String(error) });
    }
  }
}
