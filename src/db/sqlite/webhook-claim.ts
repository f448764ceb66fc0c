/**
 * The webhook claim of the SQLite adapter, on the writer thread: its statements run synchronously
 * in one transaction of the single writer, so what it reads cannot change before it writes (no row
 * locks needed). Claims are bounded per subscription (WebhookStore.claimDeliveries): a slow
 * receiver with the oldest backlog takes its share, not every claim.
 */
import { and, asc, eq, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { DeliveryClaim, DueDelivery } from "../../records/webhook.ts";
import type { Db } from "./client.ts";
import { eventColumns, toEvent } from "./reads.ts";
import { orderEvents, orders, webhookDeliveries, webhooks } from "./schema.ts";
import { toDelivery } from "./webhook-reads.ts";

const p = sql.placeholder;
const byDue = (a: { nextAttemptAt: number; seq: number }, b: { nextAttemptAt: number; seq: number }) =>
  a.nextAttemptAt - b.nextAttemptAt || a.seq - b.seq;

/** Prepares the claim on the writer thread's connection. */
export function createDeliveryClaim(db: Db) {
  const subscriptions = db.select({ id: webhooks.id }).from(webhooks).prepare();
  // One subscription's due deliveries, oldest first, read in order off
  // webhook_deliveries_subscription_due_idx: a full subscription is not read at all, one with room
  // reads at most that many rows past those in flight. The status is a literal, as in the index's
  // condition, so that using the partial index does not hang on what a parameter is bound to.
  const dueOf = db
    .select({ seq: webhookDeliveries.seq, nextAttemptAt: webhookDeliveries.nextAttemptAt })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.webhookId, p("webhookId")),
        sql`${webhookDeliveries.status} = 'pending'`,
        lte(webhookDeliveries.nextAttemptAt, p("now")),
        or(isNull(webhookDeliveries.leaseUntil), lt(webhookDeliveries.leaseUntil, p("now"))),
      ),
    )
    .orderBy(asc(webhookDeliveries.nextAttemptAt), asc(webhookDeliveries.seq))
    .limit(p("room"))
    .prepare();

  /** The oldest due deliveries within each subscription's room, then within `limit` in all. */
  function pick(args: DeliveryClaim): number[] {
    // Without a bound per subscription, each may take all of `limit`: one code path for both.
    const { limit: each, held } = args.perSubscription ?? { limit: args.limit, held: {} };
    const candidates = subscriptions.all().flatMap(({ id }) => {
      const room = Math.min(args.limit, each - (held[id] ?? 0));
      return room > 0 ? dueOf.all({ webhookId: id, now: args.now, room }) : [];
    });
    return candidates
      .sort(byDue)
      .slice(0, args.limit)
      .map((row) => row.seq);
  }

  // The picked deliveries, passed as one JSON array: the statements stay prepared whatever their number.
  const isPicked = sql`${webhookDeliveries.seq} in (select value from json_each(${p("seqs")}))`;
  const claim = db
    .update(webhookDeliveries)
    .set({ claimedBy: sql`${p("owner")}`, leaseUntil: sql`${p("leaseUntil")}` })
    .where(isPicked)
    .returning()
    .prepare();
  // What sending needs: the subscription's URL and secret, the event.
  const sending = db
    .select({
      ...eventColumns,
      deliverySeq: webhookDeliveries.seq,
      url: webhooks.url,
      secret: webhooks.secret,
      traceParent: orders.traceParent,
    })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .innerJoin(orderEvents, eq(orderEvents.seq, webhookDeliveries.eventSeq))
    .innerJoin(orders, eq(orders.seq, orderEvents.orderSeq))
    .where(isPicked)
    .prepare();

  /** Claims the picked deliveries for `owner`, oldest first, with what sending needs. */
  return function claimDeliveries(args: DeliveryClaim): DueDelivery[] {
    const picked = pick(args);
    if (picked.length === 0) return [];
    const seqs = JSON.stringify(picked);
    const claimed = claim.all({ seqs, owner: args.owner, leaseUntil: args.leaseUntil });
    const extra = new Map(
      sending
        .all({ seqs })
        .map(({ deliverySeq, url, secret, traceParent, ...event }) => [
          deliverySeq,
          { url, secret, traceParent, event },
        ]),
    );
    // RETURNING gives rows in no promised order.
    return claimed.sort(byDue).flatMap((row) => {
      const found = extra.get(row.seq);
      if (!found) return [];
      const { url, secret, traceParent } = found;
      return [{ ...toDelivery(row), url, secret, traceParent, event: toEvent(found.event) }];
    });
  };
}
