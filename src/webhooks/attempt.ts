/**
 * One attempt of a claimed delivery, as the sender makes it: the event as the body (the Standard
 * Webhooks payload shape), the delivery's message id, signed at the attempt's time (send.ts).
 */
import { toEventView } from "../events/model.ts";
import type { OrderEvent } from "../records/order.ts";
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
export function deliveryAttempts(options: { timeoutMs: number; policy: UrlPolicy; now: () => number }) {
  return (delivery: DueDelivery): Promise<DeliveryResult> =>
    sendWebhook({
      url: delivery.url,
      secret: delivery.secret,
      // The message id: the same on every attempt and redelivery, so receivers can drop duplicates.
      id: `msg_${delivery.seq}`,
      timestamp: new Date(options.now()),
      body: webhookPayload(delivery.event),
      timeoutMs: options.timeoutMs,
      policy: options.policy,
    });
}
