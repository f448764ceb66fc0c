/**
 * The webhook vocabulary shared by the webhooks feature and the storage adapters: subscriptions and
 * their deliveries as plain records. Like order.ts it imports no feature, so any adapter can use it.
 */
import type { EventType, OrderEvent } from "./order.ts";

/** A subscription: events of `eventTypes` (null: every type) are POSTed to `url`, signed with `secret`. */
export type Webhook = {
  id: string;
  url: string;
  secret: string;
  eventTypes: EventType[] | null;
  createdAt: number;
};

/** Where a page of subscriptions starts: after this one, in (created_at, id) order. */
export type WebhookKey = { createdAt: number; id: string };

/** Where a delivery stands: waiting (or being sent), delivered, or dead after its last attempt. */
export const DELIVERY_STATUSES = ["pending", "delivered", "dead"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One event for one subscription. */
export type Delivery = {
  seq: number;
  webhookId: string;
  eventSeq: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  /** The HTTP status of the last attempt's answer, when there was one. */
  lastStatus: number | null;
  deliveredAt: number | null;
  createdAt: number;
};

/** A due delivery claimed for sending, with what sending needs. */
export type DueDelivery = Delivery & {
  url: string;
  secret: string;
  event: OrderEvent;
  /** The traceparent of the event's order (tracing on when it was created), else null. */
  traceParent: string | null;
};

/**
 * A sender's claim of due deliveries (WebhookStore.claimDeliveries): up to `limit` in all, oldest
 * due first, for `owner` until `leaseUntil`.
 */
export type DeliveryClaim = {
  owner: string;
  limit: number;
  now: number;
  leaseUntil: number;
  /** At most `limit` of any one subscription, less the `held` count this owner already holds of it. */
  perSubscription?: { limit: number; held: Record<string, number> };
};

/** What became of a claimed delivery's attempt (fenced by the claim's owner). */
export type DeliveryOutcome =
  | { kind: "delivered"; seq: number; owner: string; at: number; status: number }
  | {
      kind: "retry";
      seq: number;
      owner: string;
      at: number;
      nextAttemptAt: number;
      error: string;
      status: number | null;
    }
  | { kind: "dead"; seq: number; owner: string; at: number; error: string; status: number | null };
