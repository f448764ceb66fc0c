/**
 * `redeliver-dead`: sends every dead webhook delivery (of one subscription, or of all) again,
 * through the running service (`POST /webhooks/:id/deliveries/:seq/redeliver`): pending, due now,
 * its attempts back to 0.
 */
import { expectStatus, listAll, type Request, type Say } from "./service-client.ts";

/** What this command reads of a delivery (src/webhooks/model.ts, DeliveryView). */
type DeadDelivery = { seq: number; event_seq: number; last_error: string | null };

/** Ids of every subscription, oldest first. */
async function webhookIds(request: Request): Promise<string[]> {
  const ids: string[] = [];
  for await (const webhook of listAll<{ id: string }>(request, "/webhooks?limit=100", "webhooks"))
    ids.push(webhook.id);
  return ids;
}

/**
 * Redelivers the dead deliveries of `webhook` (an unknown id throws), or of every subscription,
 * one line each. A subscription or delivery deleted meanwhile is skipped.
 */
export async function redeliverDead(request: Request, { webhook }: { webhook?: string }, say: Say) {
  const ids = webhook === undefined ? await webhookIds(request) : [webhook];
  let redelivered = 0;
  for (const id of ids) {
    const path = `/webhooks/${encodeURIComponent(id)}`;
    // Whether it exists: a named id that does not is an error (an empty listing would hide a
    // typo); one unsubscribed since the listing has nothing left to redeliver.
    const probe = await request("GET", `${path}/deliveries?status=dead&limit=1`);
    if (probe.status === 404) {
      if (webhook !== undefined) throw new Error(`no webhook ${id} (GET /webhooks lists them)`);
      continue;
    }
    expectStatus(probe, 200, `GET ${path}/deliveries`);
    const dead = listAll<DeadDelivery>(request, `${path}/deliveries?status=dead&limit=500`, "deliveries");
    for await (const delivery of dead) {
      const answer = await request("POST", `${path}/deliveries/${delivery.seq}/redeliver`);
      if (answer.status === 404) continue;
      expectStatus(answer, 200, `POST ${path}/deliveries/${delivery.seq}/redeliver`);
      redelivered++;
      say(
        `redelivered ${id} delivery ${delivery.seq} (event ${delivery.event_seq}, last error: ${delivery.last_error ?? "none"})`,
      );
    }
  }
  const of =
    webhook === undefined ? `${ids.length} webhook${ids.length === 1 ? "" : "s"}` : `webhook ${webhook}`;
  say(`redelivered ${redelivered} dead deliver${redelivered === 1 ? "y" : "ies"} of ${of}`);
  return { redelivered };
}
