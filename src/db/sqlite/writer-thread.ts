/**
 * The database writer thread: the one connection that writes. It is generic: the "open" message
 * names a module whose `createWriteOps(db)` gives the table of named operations to run (writes.ts
 * for this adapter). Each call runs through a `WriteBatcher` (group commit + fsync) and is answered
 * once its transaction is durable. Calls and answers travel in one message per event-loop turn
 * each way, on the channel they came by: the main thread's, or a port another thread of the
 * process was handed ("port": the webhook sender's). See writer.ts for why the writer has a thread of its own.
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
// Batches committed since the last "replies" message to the main thread: they travel with it (a
// message of their own would add a postMessage, the costly part; figures: docs/PERFORMANCE.md).
// Batches of another thread's calls alone go within BATCH_REPORT_MS.
let batches: BatchStats[] = [];
let batchReport: ReturnType<typeof setTimeout> | undefined;
const BATCH_REPORT_MS = 1000;
// Messages are handled one after another: "calls" may arrive while "open" still loads its module.
let queue: Promise<void> = Promise.resolve();

/** Where answers go: the main thread, or another thread's port; each gets one message per turn. */
type Channel = { post: (message: FromWriter) => void; outbox: Reply[] };

// Calls and replies cross as JSON text: posting a string costs about half of cloning the same
// objects (docs/PERFORMANCE.md), and they are plain data (no undefined inside arrays, no Dates).
function send(message: FromWriter): void {
  self.postMessage(JSON.stringify(message));
}

const main: Channel = { post: send, outbox: [] };

function reply(channel: Channel, answer: Reply): void {
  if (channel.outbox.length === 0) setImmediate(() => sendReplies(channel));
  channel.outbox.push(answer);
}

function sendReplies(channel: Channel): void {
  const replies = channel.outbox;
  channel.outbox = [];
  if (channel !== main || batches.length === 0) {
    if (replies.length > 0) channel.post({ type: "replies", replies });
    return;
  }
  const committed = batches;
  batches = [];
  send({ type: "replies", replies, batches: committed });
}

function batchCommitted(batch: BatchStats): void {
  batches.push(batch);
  if (batchReport !== undefined) return;
  batchReport = setTimeout(() => {
    batchReport = undefined;
    if (batches.length > 0 && main.outbox.length === 0) sendReplies(main);
  }, BATCH_REPORT_MS);
}

/** Takes calls from another thread of the process on `port` and answers there. */
function listen(port: MessagePort): void {
  const channel: Channel = { post: (message) => port.postMessage(JSON.stringify(message)), outbox: [] };
  port.onmessage = (event) => {
    const message = JSON.parse(event.data as string) as ToWriter;
    if (message.type !== "calls") return;
    for (const { id, op, args } of message.calls) call(channel, id, op, args);
  };
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
    onBatch: batchCommitted,
  });
  close = () => {
    wal?.close();
    closeDatabase(db);
  };
}

function call(channel: Channel, id: number, op: string, args: unknown[]): void {
  const fn = ops?.[op] as ((...args: unknown[]) => unknown) | undefined;
  if (!batcher || !fn) {
    const error = storageUnavailable(`The database writer cannot run '${op}' (not open)`);
    reply(channel, { id, ok: false, error: toWireError(error, storageUnavailable) });
    return;
  }
  batcher
    .run(() => fn(...args))
    .then(
      (value) => reply(channel, { id, ok: true, value }),
      (error: unknown) => reply(channel, { id, ok: false, error: toWireError(error, storageUnavailable) }),
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
      for (const { id, op, args } of message.calls) call(main, id, op, args);
      break;
    case "port":
      listen(message.port);
      break;
    case "close":
      // Commit what is queued; its answers are in the outbox after one microtask tick.
      batcher?.flush();
      await Promise.resolve();
      sendReplies(main);
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
