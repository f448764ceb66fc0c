/**
 * The webhooks port of the PostgreSQL adapter for another thread of the process (the webhook
 * sender's, src/webhooks/sender-thread.ts): a small pool of the thread's own on the same database,
 * so the sender's claims, renewals and outcomes cost the main thread nothing. The sender runs one
 * claim, one record and one lease tick at a time, and reads when the next delivery falls due:
 * POOL_SIZE connections serve it (each replica opens them beside its main pool).
 */
import { openPool } from "./client.ts";
import { guardedBy } from "./context.ts";
import { createWebhookStore } from "./webhooks.ts";

const POOL_SIZE = 4;

/** Opens the port (the sender thread's `OpenWebhookStore`, src/webhooks/store.ts). */
export async function openWebhookStore(args: unknown, log: (message: string, error: string) => void) {
  const { url, prepared } = args as { url: string; prepared: boolean };
  const pool = openPool(
    url,
    (error) => log("PostgreSQL connection lost", error.message),
    POOL_SIZE,
    prepared,
  );
  return {
    store: createWebhookStore({ pool, guarded: guardedBy(log) }),
    close: () => pool.end(),
  };
}
