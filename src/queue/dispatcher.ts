/**
 * The dispatcher: on the main thread, it owns the worker threads and decides every queue write.
 *
 * One "pump" at a time sends one `settleAndClaim` write (writes.ts): it records the outcomes
 * workers reported since the last pump, then claims as many due orders as the workers have free
 * slots, in one transaction of the writer thread. Only after that commit is durable are the claimed
 * orders posted to the workers. Why this shape (measured here, 2 cores): four threads each
 * committing their own updates reached ~3,500 orders/s and starved each other; one writer batching
 * claims and completions reached ~32,000/s. Claiming only free slots keeps everything else
 * `pending`, so it stays cancellable.
 */
import type { OrderRow } from "../db/schema.ts";
import type { DatabaseWriter } from "../db/writer.ts";
import type { ClaimRequest, Outcome, WriteOps } from "../writes.ts";
import { retryDelayMs } from "./backoff.ts";
import type { AttemptResult, FromWorker, ToWorker } from "./messages.ts";
import type { ProcessingSettings, WorkOrder } from "./process-order.ts";

/** What the dispatcher needs. */
export type DispatcherDeps = {
  writer: DatabaseWriter;
  now: () => number;
  workers: number;
  concurrency: number;
  maxAttempts: number;
  retryBaseMs: number;
  processing: ProcessingSettings;
  log: (level: "info" | "warn" | "error", message: string, extra?: Record<string, unknown>) => void;
};

type Claim = { seq: number; attempts: number };

/** One worker thread and the orders it holds; `owner` changes with each replacement thread. */
type Slot = { index: number; owner: string; worker: Worker; ready: boolean; inFlight: Map<string, Claim> };

const WORKER_URL = new URL("./worker.ts", import.meta.url);
// Upper bound on how long an idle dispatcher sleeps before looking for due retries again.
const MAX_IDLE_MS = 1000;
// Pause before replacing a dead worker thread, so a thread that dies at start cannot spin the CPU.
const RESPAWN_DELAY_MS = 250;

/** Runs the four-worker processing queue; see the file comment. */
export class Dispatcher {
  private readonly slots: Slot[] = [];
  private readonly runId = crypto.randomUUID().slice(0, 8);
  private generation = 0;
  private reported: { slot: Slot; result: AttemptResult }[] = [];
  private pumping = false;
  private again = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopping = false;
  private drained: (() => void) | undefined;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Starts the worker threads; orders are claimed as soon as the first one is ready. */
  start(): void {
    for (let index = 0; index < this.deps.workers; index++) this.slots.push(this.spawn(index));
  }

  /** How many worker threads are up, of how many there should be (for /ready). */
  health(): { ready: number; expected: number } {
    return { ready: this.slots.filter((slot) => slot.ready).length, expected: this.deps.workers };
  }

  /** Orders currently held by workers. */
  inFlight(): number {
    return this.slots.reduce((sum, slot) => sum + slot.inFlight.size, 0);
  }

  /** Asks for a pump soon: new orders were committed, a slot freed up, or a retry became due. */
  wake(): void {
    if (this.stopping && this.reported.length === 0) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    this.again = false;
    void this.pump();
  }

  private async pump(): Promise<void> {
    const reported = this.reported;
    this.reported = [];
    const now = this.deps.now();
    const outcomes = reported.flatMap(({ slot, result }) => this.decide(slot, result, now));
    const slots = this.stopping ? [] : this.slotsWithRoom(reported);
    const claims: ClaimRequest[] = slots.map(({ slot, free }) => ({ owner: slot.owner, limit: free }));
    try {
      const { claimed, nextDueAt } = await this.deps.writer.run("settleAndClaim", { outcomes, claims, now });
      for (const { slot, result } of reported) slot.inFlight.delete(result.orderId);
      for (const [i, { slot }] of slots.entries()) this.post(slot, claimed[i] ?? []);
      if (nextDueAt !== undefined) this.scheduleNextDue(nextDueAt, now);
    } catch (error) {
      // The transaction rolled back (an fsync failure ends the writer, see writer-thread.ts), so
      // nothing was claimed: keep the outcomes and record them on the next pump.
      this.deps.log("error", "queue pump failed; retrying", { error: String(error) });
      this.reported = reported.concat(this.reported);
      this.again = true;
      await Bun.sleep(100);
    }
    this.pumping = false;
    if (this.stopping && this.inFlight() === 0) this.drained?.();
    if (this.again || this.reported.length > 0) this.wake();
  }

  /** A queue write outside the pump; a failure is logged (the rows stay as they were). */
  private write<K extends keyof WriteOps>(op: K, ...args: Parameters<WriteOps[K]>): Promise<void> {
    return this.deps.writer.run(op, ...args).then(
      () => {},
      (error) => this.deps.log("error", "queue write failed", { error: String(error) }),
    );
  }

  /** Each ready slot with room, and how many orders it can take, counting those just finished. */
  private slotsWithRoom(reported: { slot: Slot; result: AttemptResult }[]) {
    const freed = new Map<Slot, number>();
    for (const { slot, result } of reported)
      if (slot.inFlight.has(result.orderId)) freed.set(slot, (freed.get(slot) ?? 0) + 1);
    return this.slots
      .filter((slot) => slot.ready)
      .map((slot) => ({ slot, free: this.deps.concurrency - slot.inFlight.size + (freed.get(slot) ?? 0) }))
      .filter(({ free }) => free > 0);
  }

  /** What to write for one reported attempt: completed, retry later, or failed for good. */
  private decide(slot: Slot, result: AttemptResult, now: number): Outcome[] {
    const claim = slot.inFlight.get(result.orderId);
    if (!claim) return [];
    const held = { seq: claim.seq, owner: slot.owner };
    if (result.error === undefined) return [{ kind: "completed", ...held }];
    if (claim.attempts >= this.deps.maxAttempts) return [{ kind: "failed", ...held, error: result.error }];
    const runAt = now + retryDelayMs(claim.attempts, this.deps.retryBaseMs);
    return [{ kind: "retry", ...held, runAt, error: result.error }];
  }

  private post(slot: Slot, rows: OrderRow[]): void {
    if (rows.length === 0) return;
    const orders: WorkOrder[] = rows.map((row) => ({
      orderId: row.orderId,
      userId: row.userId,
      itemIds: JSON.parse(row.itemIds) as string[],
      totalCents: row.totalCents,
      attempt: row.attempts,
    }));
    for (const row of rows) slot.inFlight.set(row.orderId, { seq: row.seq, attempts: row.attempts });
    const message: ToWorker = { type: "process", orders };
    slot.worker.postMessage(message);
  }

  /** Sleeps until the earliest pending order is due (at most MAX_IDLE_MS, to notice anything missed). */
  private scheduleNextDue(dueAt: number | null, now: number): void {
    clearTimeout(this.timer);
    const delay = dueAt === null ? MAX_IDLE_MS : Math.min(MAX_IDLE_MS, Math.max(1, dueAt - now));
    this.timer = setTimeout(() => this.wake(), delay);
  }

  private spawn(index: number): Slot {
    // A small JS heap: with the default large one the four threads collected so lazily that the
    // process peaked at ~360 MB RSS in the end-to-end benchmark; small: ~190 MB, same throughput.
    const worker = new Worker(WORKER_URL, { smol: true });
    const slot: Slot = {
      index,
      owner: `${this.runId}/w${index}.${++this.generation}`,
      worker,
      ready: false,
      inFlight: new Map(),
    };
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.type === "ready") {
        slot.ready = true;
        this.wake();
      } else {
        for (const result of message.results) this.reported.push({ slot, result });
        this.wake();
      }
    };
    worker.onerror = (event) => {
      this.deps.log("error", "worker thread crashed", { worker: slot.owner, error: event.message });
      worker.terminate();
    };
    worker.addEventListener("close", () => this.replace(slot));
    const init: ToWorker = { type: "init", settings: this.deps.processing };
    worker.postMessage(init);
    return slot;
  }

  /** A worker thread ended: release what it held and, unless shutting down, start another. */
  private replace(slot: Slot): void {
    slot.ready = false;
    if (this.stopping) return;
    this.deps.log("warn", "worker thread exited; releasing its orders and replacing it", {
      worker: slot.owner,
    });
    const owner = slot.owner;
    slot.inFlight.clear();
    this.reported = this.reported.filter((entry) => entry.slot !== slot);
    void this.write("releaseOrders", { owner, now: this.deps.now() });
    setTimeout(() => {
      if (!this.stopping) this.slots[slot.index] = this.spawn(slot.index);
    }, RESPAWN_DELAY_MS);
  }

  /**
   * Graceful stop: claim nothing more, let the workers finish what they hold for up to
   * `timeoutMs`, then release whatever is left back to pending for the next start.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    if (this.inFlight() > 0) {
      const drained = new Promise<void>((resolve) => {
        this.drained = resolve;
      });
      await Promise.race([drained, Bun.sleep(timeoutMs)]);
    }
    const abort: ToWorker = { type: "abort" };
    for (const slot of this.slots) slot.worker.postMessage(abort);
    const owners = this.slots.filter((slot) => slot.inFlight.size > 0).map((slot) => slot.owner);
    if (owners.length > 0) {
      this.deps.log("warn", "shutdown timed out; returning unfinished orders to pending", {
        orders: this.inFlight(),
      });
      const now = this.deps.now();
      await Promise.all(owners.map((owner) => this.write("releaseOrders", { owner, now })));
    }
    // Wait (briefly) for the threads to be gone, so the process exits with nothing half torn down.
    const closed = this.slots.map(
      (slot) => new Promise((resolve) => slot.worker.addEventListener("close", resolve)),
    );
    for (const slot of this.slots) slot.worker.terminate();
    await Promise.race([Promise.all(closed), Bun.sleep(1000)]);
  }
}
