/**
 * The deliveries the sender (deliverer.ts) holds claimed and has not started, with what each
 * subscription has in flight and holds: it starts them oldest first, skipping a subscription with
 * `perSubscription` attempts in flight, so a slow receiver's backlog never stands in front of a
 * fast one's, nor one whose breaker is open (circuit.ts). Its queued deliveries wait beside the
 * others and take no room from them; the claims bound what any one subscription holds (`holdable`).
 */
import { Breakers } from "./circuit.ts";
import type { DueDelivery } from "./store.ts";

export class OutboxQueue {
  #queue: DueDelivery[] = [];
  // Per subscription: attempts in flight, and deliveries held (claimed, not yet recorded).
  readonly #sendingTo = new Map<string, number>();
  readonly #heldOf = new Map<string, number>();
  readonly #subscriptionOf = new Map<number, string>();

  /**
   * At most `perSubscription` in flight to one subscription (fewer while its breaker is open), and
   * `holdable` held of it.
   */
  constructor(
    private readonly perSubscription: number,
    private readonly holdable: number,
    readonly breakers = new Breakers(Date.now),
  ) {}

  /** Claimed deliveries join the queue, and their subscriptions' holdings. */
  add(deliveries: DueDelivery[]): void {
    for (const { seq, webhookId } of deliveries) {
      this.#subscriptionOf.set(seq, webhookId);
      this.#heldOf.set(webhookId, (this.#heldOf.get(webhookId) ?? 0) + 1);
    }
    this.#queue.push(...deliveries);
  }

  /** The oldest queued delivery whose subscription is below its bound, now counted in flight. */
  start(): DueDelivery | undefined {
    const index = this.#queue.findIndex(({ webhookId }) => !this.#atBound(webhookId));
    if (index < 0) return undefined;
    const [delivery] = this.#queue.splice(index, 1) as [DueDelivery];
    this.#sendingTo.set(delivery.webhookId, (this.#sendingTo.get(delivery.webhookId) ?? 0) + 1);
    return delivery;
  }

  /** An attempt `start` gave ended (its claim is still held until `release`). */
  ended(delivery: DueDelivery): void {
    this.#sendingTo.set(delivery.webhookId, (this.#sendingTo.get(delivery.webhookId) ?? 1) - 1);
  }

  /** The claim on `seq` ended (recorded, lost, or left to lapse): it no longer counts as held. */
  release(seq: number): void {
    const webhookId = this.#subscriptionOf.get(seq);
    if (webhookId === undefined) return;
    this.#subscriptionOf.delete(seq);
    const held = (this.#heldOf.get(webhookId) ?? 1) - 1;
    if (held > 0) this.#heldOf.set(webhookId, held);
    else this.#heldOf.delete(webhookId);
  }

  /** Empties the queue (stopping); returns what it held, for their claims to be released. */
  drain(): DueDelivery[] {
    return this.#queue.splice(0);
  }

  /** Queued deliveries that could start now (their subscription below its bound). */
  startable(): number {
    let startable = 0;
    for (const { webhookId } of this.#queue) if (!this.#atBound(webhookId)) startable++;
    return startable;
  }

  /** Queued deliveries of subscriptions at their bound: they cannot start, so they take no room. */
  waiting(): number {
    return this.#queue.length - this.startable();
  }

  /**
   * The claim's per-subscription bound: `holdable` of each, less what is held of it already; none
   * of a subscription whose breaker pauses it.
   */
  claimBound(): { limit: number; held: Record<string, number> } {
    const held = Object.fromEntries(this.#heldOf);
    for (const webhookId of this.breakers.paused()) held[webhookId] = this.holdable;
    return { limit: this.holdable, held };
  }

  #atBound(webhookId: string): boolean {
    const allowed = this.breakers.allowance(webhookId, this.perSubscription);
    return (this.#sendingTo.get(webhookId) ?? 0) >= allowed;
  }
}
