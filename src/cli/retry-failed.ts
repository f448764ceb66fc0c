/**
 * `retry-failed`: sends every failed order (of one user, failed since a time) back to pending with
 * a fresh attempt budget, through the running service (`POST /orders/:id/retry`).
 */
import { expectStatus, listAll, type Request, type Say } from "./service-client.ts";

/** What this command reads of an order (src/orders/model.ts, OrderView). */
type FailedOrder = {
  order_id: string;
  user_id: string;
  created_at: string;
  started_at: string | null;
  last_error: string | null;
};

/** Which failed orders to retry: failed at or after `since` (epoch ms), of `user`. */
export type RetryFilter = { since?: number; user?: string };

/**
 * Retries the failed orders that `filter` selects, one line each; an order someone else retried
 * in the meantime (409) or that is gone (404) is skipped. The order's view has no time of its
 * failure: `since` is compared with `started_at`, when its last attempt began (it failed within
 * PROCESSING_TIMEOUT_MS of that).
 */
export async function retryFailed(request: Request, filter: RetryFilter, say: Say) {
  const query = new URLSearchParams({ status: "failed", limit: "500" });
  if (filter.user !== undefined) query.set("user_id", filter.user);
  let retried = 0;
  let skipped = 0;
  const failed = listAll<FailedOrder>(request, `/orders?${query}`, "orders");
  for await (const order of failed) {
    const began = Date.parse(order.started_at ?? order.created_at);
    if (filter.since !== undefined && began < filter.since) continue;
    const id = order.order_id;
    const answer = await request("POST", `/orders/${encodeURIComponent(id)}/retry`);
    if (answer.status === 409 || answer.status === 404) {
      skipped++;
      say(`skipped ${id}: ${answer.body?.error?.message ?? `answered ${answer.status}`}`);
      continue;
    }
    expectStatus(answer, 200, `POST /orders/${id}/retry`);
    retried++;
    say(`retried ${id} (user ${order.user_id}, last error: ${order.last_error ?? "none"})`);
  }
  say(`retried ${retried} failed order${retried === 1 ? "" : "s"}, skipped ${skipped}`);
  return { retried, skipped };
}
