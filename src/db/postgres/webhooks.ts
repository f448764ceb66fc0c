/**
 * The webhooks port on PostgreSQL: each operation one statement of webhook-sql.ts (one round trip),
 * but for creating and deleting a subscription, two in a transaction each. A failure of the
 * database becomes the adapter's 503 through `guarded`.
 */
import type pg from "pg";
import type {
  Delivery,
  DeliveryOutcome,
  DeliveryStatus,
  DueDelivery,
  Webhook,
  WebhookKey,
} from "../../records/webhook.ts";
import type { Adapter } from "./context.ts";
import * as w from "./webhook-sql.ts";

/** The webhooks port over `adapter`. */
export function createWebhookStore({ pool, guarded }: Pick<Adapter, "pool" | "guarded">) {
  const rows = async <T extends pg.QueryResultRow>(query: pg.QueryConfig) =>
    (await pool.query<T>(query)).rows;

  return {
    createWebhook: (webhook: Webhook, max: number) =>
      guarded("webhook write", () => createWebhook(pool, webhook, max)),
    listWebhooks: ({ after, limit }: { after?: WebhookKey; limit: number }) =>
      guarded("read", () =>
        rows<Webhook>(w.selectWebhooks([after?.createdAt ?? null, after?.id ?? null, limit])),
      ),
    findWebhook: (id: string) => guarded("read", async () => (await rows<Webhook>(w.selectWebhook([id])))[0]),
    deleteWebhook: (id: string) => guarded("webhook write", () => deleteWebhook(pool, id)),
    listDeliveries: (query: {
      webhookId: string;
      afterSeq: number;
      limit: number;
      status?: DeliveryStatus;
    }) =>
      guarded("read", () =>
        rows<Delivery>(
          w.selectDeliveries([query.webhookId, query.afterSeq, query.limit, query.status ?? null]),
        ),
      ),
    claimDeliveries: (args: Parameters<typeof w.claimDeliveries>[0]) =>
      guarded("webhook claim", () => rows<DueDelivery>(w.claimDeliveries(args))),
    renewDeliveryLeases: (args: { held: { seq: number; owner: string }[]; until: number }) =>
      guarded("webhook lease renewal", async () => {
        const statement = w.renewDeliveryLeases([
          args.held.map((h) => h.seq),
          args.held.map((h) => h.owner),
          args.until,
        ]);
        return (await rows<{ seq: number }>(statement)).map((row) => row.seq);
      }),
    settleDeliveries: (outcomes: DeliveryOutcome[]) =>
      guarded("webhook settle", async () => {
        if (outcomes.length === 0) return;
        await pool.query(
          w.settleDeliveries([
            outcomes.map((o) => o.seq),
            outcomes.map((o) => o.owner),
            outcomes.map((o) => o.kind),
            outcomes.map((o) => o.at),
            outcomes.map((o) => (o.kind === "retry" ? o.nextAttemptAt : null)),
            outcomes.map((o) => (o.kind === "delivered" ? null : o.error)),
            outcomes.map((o) => o.status),
          ]),
        );
      }),
    redeliver: (args: { webhookId: string; seq: number; now: number }) =>
      guarded(
        "webhook write",
        async () => (await rows<Delivery>(w.redeliver([args.webhookId, args.seq, args.now])))[0],
      ),
    backlogs: () =>
      guarded("read", () => rows<{ webhookId: string; pending: number; oldestAt: number }>(w.backlogs([]))),
    nextDeliveryAt: () =>
      guarded("read", async () => (await rows<{ at: number | null }>(w.nextDeliveryAt([])))[0]?.at ?? null),
  };
}

/** Deletes the subscription, then its deliveries, in one transaction; false if there was none. */
/** Inserts the subscription unless `max` exist; one replica at a time (an advisory lock). */
async function createWebhook(pool: pg.Pool, webhook: Webhook, max: number): Promise<boolean> {
  const { id, url, secret, eventTypes, createdAt } = webhook;
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(w.lockWebhookCreates([]));
    const inserted = (await client.query(w.insertWebhook([id, url, secret, eventTypes, createdAt, max])))
      .rowCount;
    await client.query("COMMIT");
    return inserted === 1;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

async function deleteWebhook(pool: pg.Pool, id: string): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const existed = ((await client.query(w.deleteWebhookRow([id]))).rowCount ?? 0) > 0;
    if (existed) await client.query(w.deleteDeliveriesOf([id]));
    await client.query("COMMIT");
    return existed;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
