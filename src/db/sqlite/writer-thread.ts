/**
 * The database writer thread: the one connection that writes. It is generic: the "open" message
 * names a module whose `createWriteOps(db)` gives the table of named operations to run (writes.ts
 * for this adapter). Each call runs through a `WriteBatcher` (group commit + fsync) and is answered
 * once its transaction is durable. Calls and answers travel in one message per event-loop turn
 * each way. See writer.ts for why the writer has a thread of its own.
 */
import type { SynchronousLevel } from "../../config.ts";
import { storageUnavailable, toWireError } from "../../kit/errors.ts";
import { closeDatabase, type Db, openDatabase, openWalSync } from "./client.ts";
import { type BatchStats, WriteBatcher } from "./write-batcher.ts";
import type { FromWriter, Reply, ToWriter } from "./writer.ts";

declare const self: Worker;

type OpTable = Record<string, (...args: never[]) => unknown>;

let ops: OpTable | undefined;
let batcher: WriteBatcher | undefined;
let close: (() => void) | undefined;
let outbox: Reply[] = [];
// Batches committed since the last "replies" message: they travel with it (a message of their own
// would add a postMessage, the costly part; figures: docs/PERFORMANCE.md). Every batch has replies,
// so none waits longer than its own answers.
let batches: BatchStats[] = [];
// Messages are handled one after another: "calls" may arrive while "open" still loads its module.
let queue: Promise<void> = Promise.resolve();

// Calls and replies cross as JSON text: posting a string costs about half of cloning the same
// objects (docs/PERFORMANCE.md), and they are plain data (no undefined inside arrays, no Dates).
function send(message: FromWriter): void {
  self.postMessage(JSON.stringify(message));
}

function reply(answer: Reply): void {
  if (outbox.length === 0) setImmediate(sendReplies);
  outbox.push(answer);
}

function sendReplies(): void {
  if (outbox.length === 0) return;
  const replies = outbox;
  outbox = [];
  if (batches.length === 0) {
    send({ type: "replies", replies });
    return;
  }
  const committed = batches;
  batches = [];
  send({ type: "replies", replies, batches: committed });
}

async function open(path: string, synchronous: SynchronousLevel, opsModule: string): Promise<void> {
  const { createWriteOps } = (await import(opsModule)) as { createWriteOps: (db: Db) => OpTable };
  // FULL and EXTRA: the batcher fsyncs the WAL itself before answering (see write-batcher.ts);
  // SQLite's own fsync inside COMMIT would be redundant, so the connection runs NORMAL.
  const syncsItself = synchronous === "FULL" || synchronous === "EXTRA";
  const db = openDatabase(path, syncsItself ? "NORMAL" : synchronous);
  const wal = syncsItself ? openWalSync(db) : undefined;
  ops = createWriteOps(db);
  batcher = new WriteBatcher(db, {
    // A failed fsync leaves unknown what reached the disk (the kernel may have dropped the pages),
    // so, as PostgreSQL does, the batch is answered 503 and the writer reports a fatal error: the
    // process restarts and recovers from what is on disk, taking up any order left processing.
    fsync:
      wal &&
      (() => {
        try {
          wal.fsync();
        } catch (error) {
          setImmediate(() => setImmediate(() => send({ type: "fatal", message: `fsync failed: ${error}` })));
          throw error;
        }
      }),
    log: (message, error) => send({ type: "log", message, error: String(error) }),
    onBatch: (batch) => batches.push(batch),
  });
  close = () => {
    wal?.close();
    closeDatabase(db);
  };
}

function call(id: number, op: string, args: unknown[]): void {
  const fn = ops?.[op] as ((...args: unknown[]) => unknown) | undefined;
  if (!batcher || !fn) {
    const error = storageUnavailable(`The database writer cannot run '${op}' (not open)`);
    reply({ id, ok: false, error: toWireError(error, storageUnavailable) });
    return;
  }
  batcher
    .run(() => fn(...args))
    .then(
      (value) => reply({ id, ok: true, value }),
      (error: unknown) => reply({ id, ok: false, error: toWireError(error, storageUnavailable) }),
    );
}

async function handle(message: ToWriter): Promise<void> {
  switch (message.type) {
    case "open":
      try {
        await open(message.path, message.synchronous, message.opsModule);
        send({ type: "opened" });
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
        send({ type: "closed" });
      } catch (error) {
        send({ type: "closed", error: `closing the database failed: ${error}` });
      }
      break;
  }
}

self.onmessage = (event: MessageEvent<ToWriter | string>) => {
  const message = typeof event.data === "string" ? (JSON.parse(event.data) as ToWriter) : event.data;
  queue = queue.then(() => handle(message));
};
