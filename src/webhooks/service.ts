/**
 * Webhook use cases: subscribe (the target URL checked against server-side request forgery, a
 * secret generated), list, unsubscribe, list a subscription's deliveries, and redeliver one. Plain
 * functions over the webhooks port; they know nothing of HTTP.
 */

import { deliveryNotFound, validationFailed, webhookLimitReached, webhookNotFound } from "../kit/errors.ts";
import { pageOf, pageOfRows, pageQuery, pageRequest } from "../kit/paging.ts";
import type { Delivery, Webhook, WebhookKey } from "../records/webhook.ts";
import { isLagging } from "./lagging.ts";
import type {
  CreatedWebhookView,
  CreateWebhookBody,
  DeliveriesQuery,
  DeliveryPage,
  DeliveryView,
  WebhookList,
  WebhooksQuery,
  WebhookView,
} from "./model.ts";
import { MAX_DELIVERY_PAGE, MAX_WEBHOOK_PAGE } from "./model.ts";
import { generateSecret } from "./signing.ts";
import type { WebhookStore } from "./store.ts";
import { checkWebhookUrl, type UrlPolicy } from "./url-policy.ts";

/** What the webhook use cases need. */
export type WebhookDeps = {
  store: WebhookStore;
  policy: UrlPolicy;
  /** Subscriptions the whole service may hold (MAX_WEBHOOKS). */
  maxWebhooks: number;
  /** A subscription whose oldest undelivered event is older than this is lagging (WEBHOOK_LAGGING_AFTER_MS). */
  laggingAfterMs: number;
  now: () => number;
  /** Called after a subscription was created, so the sender starts watching the outbox. */
  onSubscribed: () => void;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const toWebhookView = (webhook: Webhook): WebhookView => ({
  id: webhook.id,
  url: webhook.url,
  event_types: webhook.eventTypes,
  created_at: new Date(webhook.createdAt).toISOString(),
});

const toDeliveryView = (delivery: Delivery): DeliveryView => ({
  seq: delivery.seq,
  webhook_id: delivery.webhookId,
  event_seq: delivery.eventSeq,
  status: delivery.status,
  attempts: delivery.attempts,
  next_attempt_at: new Date(delivery.nextAttemptAt).toISOString(),
  last_error: delivery.lastError,
  last_status: delivery.lastStatus,
  delivered_at: iso(delivery.deliveredAt),
  created_at: new Date(delivery.createdAt).toISOString(),
});

/** Subscribes `url`; the answer is the only place the secret is ever shown. */
export async function createWebhook(deps: WebhookDeps, body: CreateWebhookBody): Promise<CreatedWebhookView> {
  const check = await checkWebhookUrl(body.url, deps.policy);
  if (!check.ok) throw validationFailed([{ field: "url", message: check.reason }], "body");
  const webhook: Webhook = {
    id: crypto.randomUUID(),
    url: check.url.href,
    secret: generateSecret(),
    eventTypes: body.event_types ?? null,
    createdAt: deps.now(),
  };
  if (!(await deps.store.createWebhook(webhook, deps.maxWebhooks)))
    throw webhookLimitReached(deps.maxWebhooks);
  deps.onSubscribed();
  return { ...toWebhookView(webhook), secret: webhook.secret };
}

/**
 * One page of subscriptions, oldest first, without secrets, each with its backlog and whether it
 * is lagging (`isLagging`: its oldest undelivered event older than `laggingAfterMs`).
 */
export async function listWebhooks(deps: WebhookDeps, query: WebhooksQuery): Promise<WebhookList> {
  const { limit, after, fetch } = pageQuery(query, MAX_WEBHOOK_PAGE, decodeWebhookCursor);
  const rows = await deps.store.listWebhooks({ after, limit: fetch });
  const { page, nextCursor } = pageOfRows(rows, limit, encodeWebhookCursor);
  const backlogs = new Map((await deps.store.backlogs()).map((backlog) => [backlog.webhookId, backlog]));
  const now = deps.now();
  const webhooks = page.map((webhook) => {
    const backlog = backlogs.get(webhook.id);
    const lagging = isLagging(backlog, now, deps.laggingAfterMs);
    return { ...toWebhookView(webhook), backlog: backlog?.pending ?? 0, lagging };
  });
  return { webhooks, next_cursor: nextCursor };
}

/** A subscription's place in the listing, as an opaque cursor (base64url of `created_at.id`). */
const encodeWebhookCursor = ({ createdAt, id }: WebhookKey) =>
  Buffer.from(`${Math.round(createdAt)}.${id}`).toString("base64url");

/** The place a cursor stands for; undefined when it is not one this API returned. */
function decodeWebhookCursor(cursor: string): WebhookKey | undefined {
  const decoded = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString() : "";
  const match = /^(\d{1,15})\.(.+)$/.exec(decoded);
  return match ? { createdAt: Number(match[1]), id: match[2] as string } : undefined;
}

/** Unsubscribes; its deliveries go with it (nothing more is sent). 404 when unknown. */
export async function deleteWebhook(store: WebhookStore, id: string): Promise<void> {
  if (!(await store.deleteWebhook(id))) throw webhookNotFound(id);
}

/** One page of a subscription's deliveries, oldest first (dead ones with `status=dead`). */
export async function listDeliveries(
  store: WebhookStore,
  id: string,
  query: DeliveriesQuery,
): Promise<DeliveryPage> {
  const { limit, afterSeq, fetch } = pageRequest(query, MAX_DELIVERY_PAGE);
  if (!(await store.findWebhook(id))) throw webhookNotFound(id);
  const rows = await store.listDeliveries({ webhookId: id, afterSeq, limit: fetch, status: query.status });
  const { page, nextCursor } = pageOf(rows, limit);
  return { deliveries: page.map(toDeliveryView), next_cursor: nextCursor };
}

/** Sends a delivery again (a dead one, typically): pending, due now, a fresh attempt budget. */
export async function redeliver(deps: WebhookDeps, id: string, seq: string): Promise<DeliveryView> {
  if (!(await deps.store.findWebhook(id))) throw webhookNotFound(id);
  const number = Number(seq);
  const delivery =
    /^[0-9]{1,15}$/.test(seq) && Number.isSafeInteger(number)
      ? await deps.store.redeliver({ webhookId: id, seq: number, now: deps.now() })
      : undefined;
  if (!delivery) throw deliveryNotFound(id, seq);
  deps.onSubscribed();
  return toDeliveryView(delivery);
}
