/**
 * The webhook sender's thread: makes the attempts the sender (deliverer.ts) hands it (the target
 * checked again, the body built from the event, signed, POSTed: attempt.ts, send.ts) and sends the
 * results back, one message per turn. It never touches the database: claims, leases and outcomes
 * stay with the sender on the main thread. Why a thread: a delivery's `fetch`, its URL check and its
 * signature cost the main thread more than the order it came from (docs/PERFORMANCE.md, "Webhooks
 * that keep pace"), and that thread serves HTTP.
 */
import { deliveryAttempts } from "./attempt.ts";
import type { DeliveryResult } from "./send.ts";
import type { DueDelivery } from "./store.ts";
import type { UrlPolicy } from "./url-policy.ts";

declare const self: Worker;

/** What the sender thread is told. */
export type ToSender =
  | { type: "settings"; timeoutMs: number; policy: UrlPolicy }
  | { type: "attempt"; attempts: { id: number; delivery: DueDelivery }[] };

/** What it answers: the results of the attempts that ended this turn. */
export type FromSender = { type: "results"; results: { id: number; result: DeliveryResult }[] };

let attempt: ((delivery: DueDelivery) => Promise<DeliveryResult>) | undefined;
let outbox: { id: number; result: DeliveryResult }[] = [];

function report(id: number, result: DeliveryResult): void {
  if (outbox.length === 0) {
    setImmediate(() => {
      const results = outbox;
      outbox = [];
      self.postMessage({ type: "results", results } satisfies FromSender);
    });
  }
  outbox.push({ id, result });
}

self.onmessage = (event: MessageEvent<ToSender>) => {
  const message = event.data;
  if (message.type === "settings") {
    attempt = deliveryAttempts({ timeoutMs: message.timeoutMs, policy: message.policy, now: Date.now });
    return;
  }
  for (const { id, delivery } of message.attempts) {
    // Settings always come first; an attempt never throws (send.ts).
    void (attempt as NonNullable<typeof attempt>)(delivery).then((result) => report(id, result));
  }
};
