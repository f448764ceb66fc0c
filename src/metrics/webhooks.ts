/**
 * The webhooks' gauges, read at scrape time: each subscription's outbox backlog (deliveries
 * pending) and the age of its oldest undelivered event. A receiver that cannot keep up
 * shows as a backlog that grows and an age that climbs; one subscription is one series (at most
 * MAX_WEBHOOKS), and a subscription with nothing pending has none.
 */
import { Gauge, type Registry } from "prom-client";
import { backlogAgeMs } from "../webhooks/lagging.ts";
import type { Backlog } from "../webhooks/store.ts";

/** What the gauges read: the backlogs and the clock. */
export type WebhookSources = {
  backlogs: () => Promise<Backlog[]>;
  now: () => number;
};

/** Registers the webhooks' gauges over `sources`. */
export function watchWebhooks(registry: Registry, sources: WebhookSources): void {
  const registers = [registry];
  // One read per scrape for both gauges: the first to collect reads, the second uses it.
  let pending: Promise<Backlog[]> | undefined;
  const read = () => {
    pending ??= sources.backlogs().finally(() => setTimeout(() => (pending = undefined), 0));
    return pending;
  };
  new Gauge({
    name: "webhook_backlog",
    help: "Deliveries pending in each subscription's outbox (due, waiting for a retry, or being sent)",
    labelNames: ["webhook_id"],
    registers,
    async collect() {
      this.reset();
      for (const { webhookId, pending: count } of await read()) this.set({ webhook_id: webhookId }, count);
    },
  });
  new Gauge({
    name: "webhook_backlog_oldest_seconds",
    help: "Age of each subscription's oldest undelivered event: how late its deliveries run",
    labelNames: ["webhook_id"],
    registers,
    async collect() {
      this.reset();
      const now = sources.now();
      for (const backlog of await read())
        this.set({ webhook_id: backlog.webhookId }, backlogAgeMs(backlog, now) / 1000);
    },
  });
}
