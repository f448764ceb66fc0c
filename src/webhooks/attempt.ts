/**
 * One attempt of a claimed delivery, as the sender makes it: the event as the body (the Standard
 * Webhooks payload shape), the delivery's message id, signed at the attempt's time (send.ts).
 */

import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { toEventView } from "../events/model.ts";
import type { OrderEvent } from "../records/order.ts";
import type { Tracing } from "../tracing/tracing.ts";
import { type DeliveryResult, sendWebhook } from "./send.ts";
import type { DueDelivery } from "./store.ts";
import type { UrlPolicy } from "./url-policy.ts";

/** The JSON body of a webhook: the Standard Webhooks payload shape, `data` being the event. */
export function webhookPayload(event: OrderEvent): string {
  return JSON.stringify({
    type: `order.${event.type}`,
    timestamp: new Date(event.at).toISOString(),
    data: toEventView(event),
  });
}

/** Sends attempts of deliveries with these settings; never throws. */
export function deliveryAttempts(options: {
  timeoutMs: number;
  policy: UrlPolicy;
  now: () => number;
  /** Tracing on: each attempt a span in its order's trace, its traceparent on the request. */
  tracing?: Tracing | undefined;
}) {
  const send = (delivery: DueDelivery, traceparent?: string) =>
    sendWebhook({
      url: delivery.url,
      secret: delivery.secret,
      // The message id: the same on every attempt and redelivery, so receivers can drop duplicates.
      id: `msg_${delivery.seq}`,
      timestamp: new Date(options.now()),
      body: webhookPayload(delivery.event),
      timeoutMs: options.timeoutMs,
      policy: options.policy,
      traceparent,
    });
  const { tracing } = options;
  if (!tracing) return (delivery: DueDelivery) => send(delivery);
  return async (delivery: DueDelivery): Promise<DeliveryResult> => {
    // An order stores its traceparent only when sampled: an unsampled one's deliveries make no span.
    if (delivery.traceParent === null) return send(delivery);
    // A child of the order's request, like its attempts (tracing/attempts.ts says why).
    const span = tracing.start("webhook delivery", delivery.traceParent, {
      kind: SpanKind.CLIENT,
      attributes: {
        "webhook.id": delivery.webhookId,
        "webhook.delivery": delivery.seq,
        "webhook.attempt": delivery.attempts + 1,
        "order.id": delivery.event.orderId,
        "order.event": delivery.event.type,
        "server.address": hostOf(delivery.url),
      },
    });
    const result = await send(delivery, tracing.traceparentOf(span));
    if (result.status !== undefined) span.setAttribute("http.response.status_code", result.status);
    if (!result.ok)
      span.setStatus({ code: SpanStatusCode.ERROR, message: result.error ?? `HTTP ${result.status}` });
    span.end();
    return result;
  };
}

/** The host of a subscription's URL (never its path: it may carry a token). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}
