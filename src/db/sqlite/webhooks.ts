/**
 * The webhooks port on SQLite: subscriptions and deliveries written by operations of writes.ts
 * (webhook-sql.ts) on the writer thread, read on the read-only connection. The deliveries a dead
 * process was sending are released at open (storage.ts), not here.
 */
import type { Webhook, WebhookKey } from "../../records/webhook.ts";
import type { Adapter } from "./context.ts";
import type { WriteOps } from "./writes.ts";

/** The webhooks port over `adapter`. */
export function createWebhookStore({ writer, webhookReads }: Pick<Adapter, "writer" | "webhookReads">) {
  return {
    createWebhook: (webhook: Webhook, max: number) => writer.run("createWebhook", webhook, max),
    listWebhooks: async (page: { after?: WebhookKey; limit: number }) => webhookReads.listWebhooks(page),
    findWebhook: async (id: string) => webhookReads.findWebhook(id),
    deleteWebhook: (id: string) => writer.run("deleteWebhook", id),
    listDeliveries: async (query: Parameters<typeof webhookReads.listDeliveries>[0]) =>
      webhookReads.listDeliveries(query),
    claimDeliveries: (args: Parameters<WriteOps["claimDeliveries"]>[0]) =>
      writer.run("claimDeliveries", args),
    renewDeliveryLeases: (args: Parameters<WriteOps["renewDeliveryLeases"]>[0]) =>
      writer.run("renewDeliveryLeases", args),
    settleDeliveries: (outcomes: Parameters<WriteOps["settleDeliveries"]>[0]) =>
      writer.run("settleDeliveries", outcomes),
    redeliver: (args: Parameters<WriteOps["redeliver"]>[0]) => writer.run("redeliver", args),
    nextDeliveryAt: async () => webhookReads.nextDeliveryAt(),
    backlogs: async () => webhookReads.backlogs(),
  };
}
