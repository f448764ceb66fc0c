/**
 * The webhook sender: claims due deliveries from the outbox, sends each signed event to its
 * subscriber (`send`: attempt.ts, send.ts) and records the outcome: delivered on a 2xx, else sent
 * again after a capped exponential backoff with full jitter, dead after `maxAttempts` (policy.ts).
 * It runs on a thread of its own (sender-thread.ts), on a webhooks port of its own, never on the
 * request path nor on the order workers: requests only commit events. At most `concurrency`
 * attempts are in flight, at most `perSubscription` to one subscription (outbox-queue.ts), so a
 * slow or dead receiver holds only its own slots; one that keeps failing is paused (circuit.ts).
 *
 * It is built from the leased-job engine's pieces (src/jobs/), as the order queue is: its claims
 * and their leases, renewed every third of LEASE_MS (a claim whose lease ran out is another
 * sender's to take, and a lost claim's outcome is not recorded); a pump that runs once at a time;
 * outcomes recorded one call at a time, and kept for the next call when one fails (outcome-recorder.ts).
 *
 * Delivery is at least once: an attempt whose outcome could not be recorded (a crash, a database
 * lost for longer than a lease) is sent again once its claim's lease runs out, with the same
 * `webhook-id`. Deliveries run concurrently and are retried independently, so they are not
 * ordered; receivers order by the event's `seq`.
 */

import type { RetryRules } from "../jobs/backoff.ts";
import { Claims, type Job } from "../jobs/claims.ts";
import { LeaseKeeper, UNOBSERVED } from "../jobs/lease-keeper.ts";
import { Serial } from "../jobs/serial.ts";
import type { Logger } from "../kit/logger.ts";
import { Breakers } from "./circuit.ts";
import { OutboxQueue } from "./outbox-queue.ts";
import { OutcomeRecorder } from "./outcome-recorder.ts";
import { decideDelivery } from "./policy.ts";
import type { DeliveryResult } from "./send.ts";
import type { DueDelivery, WebhookStore } from "./store.ts";

/** What the sender needs. */
export type DelivererDeps = RetryRules & {
  store: WebhookStore;
  /** Calls back when events may have been committed (the events port's subscribe). */
  onEvents: (listener: () => void) => () => void;
  now: () => number;
  /** This process's name in claims (fencing between replicas). */
  owner: string;
  /** Sends one attempt of a delivery; never throws (attempt.ts: send.ts with the URL policy and timeout). */
  send: (delivery: DueDelivery) => Promise<DeliveryResult>;
  /** Attempts in flight at once (WEBHOOK_CONCURRENCY). */
  concurrency: number;
  /** Attempts in flight at once to any one subscription (WEBHOOK_SUBSCRIPTION_CONCURRENCY). */
  perSubscription: number;
  /** How long a claim holds a delivery; renewed every third of it while held (LEASE_MS). */
  leaseMs: number;
  log: Logger;
};

// A pass over the outbox at least this often (retries falling due, another replica's events, a
// lost wake-up), and at most once per WAKE_MS however many events commit.
const POLL_MS = 1000;
const WAKE_MS = 10;
// Rounds of `concurrency` attempts held claimed at most (of `perSubscription` for one subscription).
export const CLAIM_DEPTH = 4;

/** A delivery as the claims know it. */
const asJob = ({ seq, attempts }: DueDelivery): Job => ({ key: String(seq), seq, attempts });

export class WebhookDeliverer {
  readonly #claims = new Claims();
  readonly #leases: LeaseKeeper;
  readonly #pump: Serial;
  readonly #recorder: OutcomeRecorder;
  #inFlight = new Set<Promise<void>>();
  // Claimed, not started: up to CLAIM_DEPTH × concurrency that can start, so claims come in batches.
  readonly #queue: OutboxQueue;
  #stopped = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = 0;
  #lastPumpAt = 0;
  #leaseTimer: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void) | undefined;
  // Whether any subscription exists (read at each pass): without one, committed events wake nothing.
  #subscribed = false;
  #subscribedReadAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: DelivererDeps) {
    const logFailure = (what: string) => (error: unknown) =>
      deps.log("error", what, { error: String(error) });
    this.#claims.open(deps.owner);
    this.#queue = new OutboxQueue(
      deps.perSubscription,
      CLAIM_DEPTH * deps.perSubscription,
      new Breakers(deps.now, (webhook, pauseMs) =>
        deps.log("warn", "webhook receiver failing: its deliveries wait", { webhook, pauseMs }),
      ),
    );
    this.#leases = new LeaseKeeper({
      // No rescue call: a claim whose lease ran out is due again to every sender's claim.
      store: { renewLeases: (args) => deps.store.renewDeliveryLeases(args) },
      claims: this.#claims,
      now: deps.now,
      leaseMs: deps.leaseMs,
      observer: UNOBSERVED,
      log: deps.log,
      jobs: "webhook deliveries",
      // The attempt in flight goes on (it ends by its timeout); its outcome is not recorded.
      onLost: () => {},
      onRescued: () => {},
    });
    this.#pump = new Serial(() => this.#claimDue(), logFailure("webhook outbox unavailable"));
    this.#recorder = new OutcomeRecorder(
      (outcomes) => deps.store.settleDeliveries(outcomes),
      (outcomes) => {
        for (const { seq } of outcomes) this.#drop(seq);
        // Their claims made room: claim again now, not at the next poll.
        this.#schedule(WAKE_MS);
      },
      logFailure("could not record webhook outcomes"),
    );
  }

  start(): void {
    this.#stopped = false;
    this.#unsubscribe = this.deps.onEvents(() => this.#wake());
    this.#leaseTimer = setInterval(() => void this.#leases.tick(), this.#leases.intervalMs);
    this.#schedule(0);
  }

  /** Stops claiming and waits up to `timeoutMs` for the attempts in flight; unrecorded ones are sent again later. */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    clearTimeout(this.#timer);
    clearInterval(this.#leaseTimer);
    this.#timer = undefined;
    // Claimed but not started: their leases lapse and they are sent later (by this process after a
    // restart, or by another replica).
    for (const delivery of this.#queue.drain()) this.#drop(delivery.seq);
    await Promise.race([Promise.all(this.#inFlight), Bun.sleep(timeoutMs)]);
    await this.#recorder.flush();
  }

  /** A subscription was created here: look at the outbox on the next events. */
  subscriptionsChanged(): void {
    this.#subscribed = true;
    this.#wake();
  }

  /** Deliveries held: claimed and not yet recorded (queued, in flight or being recorded). */
  held(): number {
    return this.#claims.count(this.deps.owner);
  }

  /** One lease tick now: renew what is held, lose what was taken (its timer runs it every third of a lease). */
  renewLeases(): Promise<void> {
    return this.#leases.tick();
  }

  #wake(): void {
    if (this.#stopped || !this.#subscribed) return;
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
      this.#pump.request();
    }, delayMs);
  }

  /** One pass over the outbox: claims what is due for the free slots and starts sending it. */
  async #claimDue(): Promise<void> {
    if (this.#stopped) return;
    let nextInMs = POLL_MS;
    try {
      // Read again once per POLL_MS, not at every pass: under load passes come every WAKE_MS.
      if (Date.now() - this.#subscribedReadAt >= POLL_MS) {
        this.#subscribed = (await this.deps.store.listWebhooks({ limit: 1 })).length > 0;
        this.#subscribedReadAt = Date.now();
      }
      // No subscription, no delivery (deleting one deletes its deliveries): one read a second.
      const next = this.#subscribed ? await this.deps.store.nextDeliveryAt() : null;
      const now = this.deps.now();
      const room = CLAIM_DEPTH * this.deps.concurrency - this.held() + this.#queue.waiting();
      if (next !== null && next <= now && room >= this.deps.concurrency) {
        const leaseUntil = now + this.deps.leaseMs;
        const { owner, store } = this.deps;
        const perSubscription = this.#queue.claimBound();
        const due = await store.claimDeliveries({ owner, limit: room, now, leaseUntil, perSubscription });
        this.#claims.take(owner, due.map(asJob), leaseUntil, now);
        this.#queue.add(due);
        // An empty claim (every due delivery's subscription at its bound or paused) asks for no
        // quick pass: the next comes when an attempt ends, events commit, or at the poll.
        if (due.length > 0) this.#fill();
        if (due.length === room) nextInMs = WAKE_MS;
      } else if (next !== null && next > now) {
        nextInMs = Math.min(POLL_MS, next - now);
      }
    } finally {
      this.#lastPumpAt = Date.now();
      this.#schedule(nextInMs);
      // Held deliveries of a subscription whose pause just ended (circuit.ts) start here at the latest.
      this.#startQueued();
    }
  }

  /** Starts queued deliveries while slots are free; claims more when the startable ones run low. */
  #fill(): void {
    this.#startQueued();
    if (this.#queue.startable() < this.deps.concurrency) this.#schedule(WAKE_MS);
  }

  #startQueued(): void {
    while (this.#inFlight.size < this.deps.concurrency && !this.#stopped) {
      const delivery = this.#queue.start();
      if (!delivery) break;
      const sent = this.#attempt(delivery).finally(() => {
        this.#inFlight.delete(sent);
        this.#queue.ended(delivery);
        this.#fill();
      });
      this.#inFlight.add(sent);
    }
  }

  /** The claim on `seq` ends (recorded, lost, or left to lapse). */
  #drop(seq: number): void {
    this.#claims.delete(this.deps.owner, String(seq));
    this.#queue.release(seq);
  }

  async #attempt(delivery: DueDelivery): Promise<void> {
    const { deps } = this;
    const result = await deps.send(delivery);
    this.#queue.breakers.record(delivery.webhookId, result.ok);
    const key = String(delivery.seq);
    const claim = this.#claims.get(deps.owner, key);
    // Lost while in flight (its lease ran out and another sender may have it): not ours to record.
    if (!claim || claim.lost) {
      this.#drop(delivery.seq);
      return;
    }
    claim.reported = true;
    const outcome = decideDelivery(deps.owner, delivery, result, deps.now(), deps);
    if (outcome.kind === "dead")
      deps.log("warn", "webhook delivery dead", { delivery: delivery.seq, webhook: delivery.webhookId });
    this.#recorder.add(outcome);
  }
}
