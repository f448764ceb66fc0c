/**
 * The database writer thread: the one connection that writes. It runs the operations of
 * `writes.ts` that the main thread sends, through a `WriteBatcher` (group commit + fsync), and
 * answers each call once its transaction is durable. Calls and answers travel in one message per
 * event-loop turn each way. See db/writer.ts for why the writer has a thread of its own.
 */
import type { SynchronousLevel } from "../config.ts";
import { AppError } from "../errors.ts";
import { createWriteOps, type WriteOps } from "../writes.ts";
import { closeDatabase, openDatabase, openWalSync } from "./client.ts";
import { WriteBatcher } from "./write-batcher.ts";
import type { FromWriter, Reply, ToWriter } from "./writer.ts";

declare const self: Worker;

let ops: WriteOps | undefined;
let batcher: WriteBatcher | undefined;
let close: (() => void) | undefined;
let outbox: Reply[] = [];

function send(message: FromWriter): void {
  self.postMessage(message);
}

function reply(answer: Reply): void {
  if (outbox.length === 0) setImmediate(sendReplies);
  outbox.push(answer);
}

function sendReplies(): void {
  if (outbox.length === 0) return;
  const replies = outbox;
  outbox = [];
  send({ type: "replies", replies });
}

function open(path: string, synchronous: SynchronousLevel): void {
  // FULL and EXTRA: the batcher fsyncs the WAL itself before answering (see write-batcher.ts);
  // SQLite's own fsync inside COMMIT would be redundant, so the connection runs NORMAL.
  const syncsItself = synchronous === "FULL" || synchronous === "EXTRA";
  const db = openDatabase(path, syncsItself ? "NORMAL" : synchronous, { migrations: false });
  const wal = syncsItself ? openWalSync(db) : undefined;
  ops = createWriteOps(db);
  batcher = new WriteBatcher(db, {
    // A failed fsync leaves unknown what reached the disk (the kernel may have dropped the pages),
    // so, as PostgreSQL does, the writer answers that batch 503 and ends: the process restarts and
    // recovers from what is on disk, and start-up takes up any order left processing.
    fsync:
      wal &&
      (() => {
        try {
          wal.fsync();
        } catch (error) {
          setImmediate(() => setImmediate(() => process.exit(1)));
          throw error;
        }
      }),
    log: (message, error) => send({ type: "log", message, error: String(error) }),
  });
  close = () => {
    wal?.close();
    closeDatabase(db);
  };
}

function call(id: number, op: keyof WriteOps, args: unknown[]): void {
  if (!batcher || !ops) {
    reply({ id, ok: false, error: { status: 503, code: "STORAGE_UNAVAILABLE", message: "Not open" } });
    return;
  }
  const fn = ops[op] as (...args: unknown[]) => unknown;
  batcher
    .run(() => fn(...args))
    .then(
      (value) => reply({ id, ok: true, value }),
      (error: unknown) => {
        const known = error instanceof AppError ? error : undefined;
        reply({
          id,
          ok: false,
          error: {
            status: known?.status ?? 503,
            code: known?.code ?? "STORAGE_UNAVAILABLE",
            message: known?.message ?? String(error),
            details: known?.details,
          },
        });
      },
    );
}

self.onmessage = async (event: MessageEvent<ToWriter>) => {
  const message = event.data;
  switch (message.type) {
    case "open":
      try {
        open(message.path, message.synchronous);
      } catch (error) {
        send({ type: "failed", message: String(error) });
      }
      break;
    case "calls":
      for (const { id, op, args } of message.calls) call(id, op, args);
      break;
    case "close":
      // Commit what is queued; its answers are in the outbox after one microtask tick.
      batcher?.flush();
      await Promise.resolve();
      sendReplies();
      try {
        close?.();
      } catch (error) {
        send({ type: "log", message: "closing the database failed", error: String(error) });
      }
      send({ type: "closed" });
      break;
  }
};
