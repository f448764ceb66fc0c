/**
 * The webhooks feature's storage port: subscriptions, and the outbox of deliveries. The adapters
 * write a delivery for each subscription an event matches in the transaction that records the
 * event (a database trigger), so an event committed is an event delivered (at least once), and a
 * transition rolled back sends nothing. Every adapter under src/db/ implements it;
 * test/storage-contract.ts defines its behaviour.
 */
import type {
  Delivery,
  DeliveryClaim,
  DeliveryOutcome,
  DeliveryStatus,
  DueDelivery,
  Webhook,
  WebhookKey,
} from "../records/webhook.ts";

export type { DeliveryClaim, DeliveryOutcome, DueDelivery, WebhookKey };

/** One subscription's pending deliveries: how many, and when the oldest one's event was committed. */
export type Backlog = { webhookId: string; pending: number; oldestAt: number };

/**
 * How another thread of this process opens a webhooks port of its own (the sender's thread,
 * sender-thread.ts): `module` exports an `OpenWebhookStore`, given `args` (plain data, but for the
 * ports listed in `transfer`). The adapter decides what the thread gets: on SQLite a channel to the
 * one writer thread and a read connection of its own; on PostgreSQL a small pool of its own.
 */
export type ThreadStoreOpener = { module: string; args: unknown; transfer: MessagePort[] };

/** What a `ThreadStoreOpener`'s module exports as `openWebhookStore`. */
export type OpenWebhookStore = (
  args: unknown,
  log: (message: string, error: string) => void,
) => Promise<{ store: WebhookStore; close(): Promise<void> }>;

/** What the webhooks feature needs from storage. */
export type WebhookStore = {
  /**
   * Stores the subscription unless the service already holds `max` of them (then false): the
   * count and the insert are one step, so concurrent creates on any replica never pass `max`.
   */
  createWebhook(webhook: Webhook, max: number): Promise<boolean>;
  /** Up to `limit` subscriptions after `after` (by created_at, then id), oldest first. */
  listWebhooks(page: { after?: WebhookKey; limit: number }): Promise<Webhook[]>;
  findWebhook(id: string): Promise<Webhook | undefined>;
  /** Removes the subscription and all its deliveries; false if there was none. */
  deleteWebhook(id: string): Promise<boolean>;
  /** The subscription's deliveries after `afterSeq`, oldest first, optionally of one status. */
  listDeliveries(query: {
    webhookId: string;
    afterSeq: number;
    limit: number;
    status?: DeliveryStatus;
  }): Promise<Delivery[]>;
  /**
   * Claims up to `limit` pending deliveries due at `now` for `owner` until `leaseUntil` (a claim
   * whose lease ran out is due again: its sender is gone), oldest first across subscriptions.
   * With `perSubscription`, a subscription whose receiver is slow holds at most its share, and the
   * rest of `limit` goes to the others' due deliveries; without it, no bound per subscription.
   */
  claimDeliveries(args: DeliveryClaim): Promise<DueDelivery[]>;
  /**
   * Extends to `until` the lease of each listed delivery its owner still holds; returns the seqs it
   * extended (a missing one was taken up by another sender after its lease ran out, or settled).
   */
  renewDeliveryLeases(args: { held: { seq: number; owner: string }[]; until: number }): Promise<number[]>;
  /** Records the outcomes of claimed deliveries; an outcome whose owner lost the claim changes nothing. */
  settleDeliveries(outcomes: DeliveryOutcome[]): Promise<void>;
  /** A dead (or delivered) delivery of this subscription goes back to pending, due now, attempts 0. */
  redeliver(args: { webhookId: string; seq: number; now: number }): Promise<Delivery | undefined>;
  /** When the earliest pending delivery falls due (null: none pending). */
  nextDeliveryAt(): Promise<number | null>;
  /**
   * Each subscription's outbox: how many of its deliveries are pending and when the event of the
   * oldest of them was committed. Subscriptions with none pending are left out.
   */
  backlogs(): Promise<Backlog[]>;
};
