/**
 * The webhook sender's thread: the whole sender (deliverer.ts) runs here, on a webhooks port of its
 * own that the storage adapter opens for it (SQLite: a channel to the one writer thread and a read
 * connection; PostgreSQL: a small pool), making its attempts here too (the target checked again,
 * the body built from the event, signed, POSTed: attempt.ts, send.ts). The main thread only tells
 * it when events may have been committed and when a subscription was created. Why: claims, lease
 * renewals, outcome records, the attempts and their messages cost the main thread more than the
 * orders the events came from, and that thread serves HTTP (docs/PERFORMANCE.md, "Webhooks that
 * keep pace").
 */

import type { TracingConfig } from "../config-tracing.ts";
import type { RetryRules } from "../jobs/backoff.ts";
import type { Logger } from "../kit/logger.ts";
import { startTracing } from "../tracing/tracing.ts";
import { deliveryAttempts } from "./attempt.ts";
import { WebhookDeliverer } from "./deliverer.ts";
import type { OpenWebhookStore } from "./store.ts";
import type { UrlPolicy } from "./url-policy.ts";

declare const self: Worker;

/** How the sender works (from the settings; `owner` names this thread's claims). */
export type SenderSettings = RetryRules & {
  owner: string;
  concurrency: number;
  perSubscription: number;
  leaseMs: number;
  timeoutMs: number;
  policy: UrlPolicy;
  /** Traces (OTEL_*): a span per delivery attempt, its traceparent on the request. */
  tracing: TracingConfig | undefined;
};

/** What the sender thread is told. */
export type ToSender =
  | { type: "start"; settings: SenderSettings; store: { module: string; args: unknown } }
  // Events may have been committed; a subscription was created.
  | { type: "wake" }
  | { type: "subscribed" }
  | { type: "stop"; timeoutMs: number };

/** What it tells the main thread. */
export type FromSender =
  | { type: "log"; level: Parameters<Logger>[0]; message: string; extra?: Record<string, unknown> }
  // The store could not be opened: the main thread ends this thread and starts another.
  | { type: "failed"; error: string }
  | { type: "stopped" };

const log: Logger = (level, message, extra) => self.postMessage({ type: "log", level, message, extra });
const listeners = new Set<() => void>();
let running: Promise<{ deliverer: WebhookDeliverer; close: () => Promise<void> }> | undefined;

async function start(settings: SenderSettings, opener: { module: string; args: unknown }) {
  const { openWebhookStore } = (await import(opener.module)) as { openWebhookStore: OpenWebhookStore };
  const { store, close } = await openWebhookStore(opener.args, (message, error) =>
    log("error", message, { error }),
  );
  const tracing = settings.tracing && startTracing(settings.tracing);
  const deliverer = new WebhookDeliverer({
    ...settings,
    store,
    onEvents: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    now: Date.now,
    send: deliveryAttempts({
      timeoutMs: settings.timeoutMs,
      policy: settings.policy,
      now: Date.now,
      tracing,
    }),
    log,
  });
  deliverer.start();
  return {
    deliverer,
    close: async () => {
      await close();
      await tracing?.shutdown();
    },
  };
}

async function stop(timeoutMs: number): Promise<void> {
  try {
    const { deliverer, close } = await (running as NonNullable<typeof running>);
    await deliverer.stop(timeoutMs);
    await close();
  } finally {
    self.postMessage({ type: "stopped" } satisfies FromSender);
  }
}

self.onmessage = (event: MessageEvent<ToSender>) => {
  const message = event.data;
  switch (message.type) {
    case "start":
      running = start(message.settings, message.store);
      running.catch((error) =>
        self.postMessage({ type: "failed", error: String(error) } satisfies FromSender),
      );
      break;
    case "wake":
      for (const listener of listeners) listener();
      break;
    case "subscribed":
      void running?.then(({ deliverer }) => deliverer.subscriptionsChanged());
      break;
    case "stop":
      void stop(message.timeoutMs);
      break;
  }
};
