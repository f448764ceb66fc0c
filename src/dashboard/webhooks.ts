/**
 * The dashboard's webhooks section: the subscriptions whose receivers are behind, and which of
 * them lag, by the one rule GET /webhooks uses too (`isLagging`, webhooks/lagging.ts).
 *
 * One read of the outbox (`WebhookStore.backlogs()`) serves the answers until the next read is
 * due. The dashboard computes its data at most once a second, and each computation reads again,
 * unless the previous read was slow: that read is one pass over the pending deliveries (on
 * SQLite on the main thread), and the outbox is at its largest exactly when receivers lag
 * (docs/PERFORMANCE.md), so the next read waits READ_COST_FACTOR times as long as the last took.
 * The ages are computed at each answer from when the oldest events were committed, so they keep
 * climbing between reads. A receiver is named by its URL's origin, looked up once per subscription
 * (an id is never reused and its URL never changes).
 */
import { backlogAgeMs, isLagging } from "../webhooks/lagging.ts";
import type { Backlog, WebhookStore } from "../webhooks/store.ts";
import { BEHIND_SHOWN, type DashboardWebhooks } from "./model.ts";

/** What the section needs: the outbox and the subscriptions, and when one lags. */
export type WebhookLagDeps = {
  store: Pick<WebhookStore, "backlogs" | "findWebhook">;
  /** WEBHOOK_LAGGING_AFTER_MS. */
  laggingAfterMs: number;
};

// Reads take at most 1/READ_COST_FACTOR of the time: a read of 1 ms does not delay the next
// second's; after one of 40 ms (a large outbox on SQLite) the next waits 2 s.
const READ_COST_FACTOR = 50;

/** Furthest behind first: the oldest undelivered event first, then by id, so the order is stable. */
const byOldest = (a: Backlog, b: Backlog) =>
  a.oldestAt - b.oldestAt || (a.webhookId < b.webhookId ? -1 : a.webhookId > b.webhookId ? 1 : 0);

/** The webhooks section of the dashboard, over reads of the outbox shared as described above. */
export class WebhookLag {
  #last: { backlogs: Backlog[]; nextReadAt: number } | undefined;
  #reading: Promise<Backlog[]> | undefined;
  /** The origins of the subscriptions shown, each kept while its subscription stays behind. */
  readonly #origins = new Map<string, string>();

  constructor(
    private readonly deps: WebhookLagDeps,
    private readonly now: () => number,
  ) {}

  /** The section as of `now`: from the last read while it is fresh enough, else from a new one. */
  async section(now: number): Promise<DashboardWebhooks> {
    const backlogs =
      this.#last && now < this.#last.nextReadAt ? this.#last.backlogs : await this.#readShared();
    const laggingAfterMs = this.deps.laggingAfterMs;
    const lagging = (backlog: Backlog) => isLagging(backlog, now, laggingAfterMs);
    return {
      lagging_after_ms: laggingAfterMs,
      pending: backlogs.reduce((sum, backlog) => sum + backlog.pending, 0),
      subscriptions_behind: backlogs.length,
      subscriptions_lagging: backlogs.filter(lagging).length,
      behind: backlogs.slice(0, BEHIND_SHOWN).flatMap((backlog) => {
        const origin = this.#origins.get(backlog.webhookId);
        // No origin: the subscription was deleted since the read, and its deliveries with it.
        if (origin === undefined) return [];
        const age = Math.round(backlogAgeMs(backlog, now));
        return [
          {
            id: backlog.webhookId,
            origin,
            pending: backlog.pending,
            oldest_age_ms: age,
            lagging: lagging(backlog),
          },
        ];
      }),
    };
  }

  /** One read at a time: a computation that comes while one runs shares it. */
  #readShared(): Promise<Backlog[]> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<Backlog[]> {
    const started = this.now();
    const backlogs = (await this.deps.store.backlogs()).toSorted(byOldest);
    const tookMs = this.now() - started;
    await this.#learnOrigins(backlogs);
    this.#last = { backlogs, nextReadAt: this.now() + READ_COST_FACTOR * tookMs };
    return backlogs;
  }

  /** Looks up the origins of the shown subscriptions not known yet; forgets those no longer behind. */
  async #learnOrigins(backlogs: Backlog[]): Promise<void> {
    const behind = new Set(backlogs.map((backlog) => backlog.webhookId));
    for (const id of this.#origins.keys()) if (!behind.has(id)) this.#origins.delete(id);
    const unknown = backlogs
      .slice(0, BEHIND_SHOWN)
      .map((backlog) => backlog.webhookId)
      .filter((id) => !this.#origins.has(id));
    const found = await Promise.all(unknown.map((id) => this.deps.store.findWebhook(id)));
    for (const webhook of found) if (webhook) this.#origins.set(webhook.id, new URL(webhook.url).origin);
  }
}
