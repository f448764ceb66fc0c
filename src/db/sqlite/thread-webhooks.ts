/**
 * The webhooks port of the SQLite adapter for another thread of the process (the webhook sender's,
 * src/webhooks/sender-thread.ts). Its writes go to the one writer thread over a channel of their
 * own (`DatabaseWriter.connect` on the main thread), in the same group commits as every other
 * write, so the file still has one writer; its reads run on a read-only connection of the thread's
 * own. The main thread then carries none of the sender's claims, renewals and outcomes.
 */
import type { SynchronousLevel } from "../../config.ts";
import { openDatabase } from "./client.ts";
import { createWebhookReads } from "./webhook-reads.ts";
import { createWebhookStore } from "./webhooks.ts";
import { DatabaseWriter } from "./writer.ts";
import type { WriteOps } from "./writes.ts";

/** What storage.ts's `webhooksForThread` hands the thread. */
export type ThreadArgs = { path: string; synchronous: SynchronousLevel; port: MessagePort };

/** Opens the port (the sender thread's `OpenWebhookStore`, src/webhooks/store.ts). */
export async function openWebhookStore(args: unknown, log: (message: string, error: string) => void) {
  const { path, synchronous, port } = args as ThreadArgs;
  const reader = openDatabase(path, synchronous, { readonly: true });
  // The writer thread is the main thread's: if it fails, the process exits (its onFatal).
  const writer = DatabaseWriter.over<WriteOps>(port, { log, onFatal: () => {} });
  return {
    store: createWebhookStore({ writer, webhookReads: createWebhookReads(reader) }),
    async close() {
      await writer.close();
      reader.$client.close();
    },
  };
}
