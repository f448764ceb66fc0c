/**
 * One client's SSE stream (`GET /events`, routes.ts), served at the pace the client reads.
 */
import type { OrderEvent } from "../records/order.ts";
import type { EventFilter, Watch } from "./feed.ts";
import { toEventView } from "./model.ts";
import type { EventDeps } from "./routes.ts";

// Events read from the table at a time, when the stream is behind.
const PAGE = 500;
const encoder = new TextEncoder();

/** The SSE frame of one event. */
const frame = (event: OrderEvent) => `id: ${event.seq}\ndata: ${JSON.stringify(toEventView(event))}\n\n`;

/**
 * One client's stream, served at the pace the client reads. It is either live (the feed's events
 * are queued as they come) or behind (its events wait in the table and are read a page at a time,
 * only when the client has taken most of what is queued: the stream's `pull`). A replay starts
 * behind; a live stream whose queue is full falls behind instead of queuing more. While behind,
 * the feed's events only move `upTo`, the last one handed over: reading (cursor, upTo] in stream
 * order then gives every event the client lacks, once, and a page that ends before its limit with
 * `upTo` unchanged means the feed hands over all the rest. Every event is in the table, so a slow
 * client costs its queue and nothing more; one that leaves the stream waiting and reads nothing for
 * `stallMs` is cut off, and resumes with Last-Event-ID.
 */
export class EventStream {
  readonly readable: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #ready: Promise<void> = Promise.resolve();
  #watch: Watch | undefined;
  #done = false;
  #behind = true;
  // The last event queued (first the client's Last-Event-ID; for a live-only stream the watch's
  // position), and while behind the last event the feed handed over (first the watch's position).
  #cursor: number | undefined;
  #upTo: number | undefined;
  // A catch-up reads when at most half of `ahead` events are queued: a replay keeps about a page
  // queued, whatever SSE_MAX_QUEUED_EVENTS allows.
  readonly #ahead: number;
  // Reads by the client show as the queue's free room growing between two looks at it.
  #room = 0;
  #readAt = Date.now();
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly deps: EventDeps,
    private readonly filter: EventFilter,
    after: number | undefined,
    private readonly signal: AbortSignal,
  ) {
    this.#cursor = after;
    this.#ahead = Math.min(PAGE, deps.maxQueued);
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
          this.#write("retry: 1000\n: connected\n\n");
          this.#ready = this.#begin();
        },
        pull: () => this.#pull(),
        cancel: () => this.#finish(),
      },
      new CountQueuingStrategy({ highWaterMark: deps.maxQueued }),
    );
  }

  /** Watches the feed; from then on every event after `after` (or the watch's position) is the client's. */
  async #begin(): Promise<void> {
    this.signal.addEventListener("abort", () => this.#finish(), { once: true });
    if (this.signal.aborted) return this.#finish();
    try {
      await this.#tellPruned();
      this.#watch = await this.deps.feed.watch({
        filter: this.filter,
        deliver: (event) => this.#deliver(event),
        // The service is shutting down: end the stream; the client reconnects (elsewhere) with
        // Last-Event-ID and misses nothing.
        end: () => {
          if (this.#done) return;
          this.#finish();
          this.#controller.close();
        },
      });
    } catch (error) {
      return this.#fail(error);
    }
    // The client left (or the stream ended) while the feed was starting: let go at once.
    if (this.#done) return this.#watch.stop();
    // Events handed over before this point are after the position, so they are kept.
    this.#upTo ??= this.#watch.position;
    this.#cursor ??= this.#watch.position;
    this.#waitForClient();
    this.#heartbeat = setInterval(() => {
      if (this.#free() > 0) this.#write(": heartbeat\n\n");
    }, this.deps.heartbeatMs);
  }

  /**
   * A resume from before the oldest event kept: events after the client's were pruned. Said first,
   * as a named event (EventSource's `onmessage` does not see it; `addEventListener("pruned")`
   * does) without an id, so the client's Last-Event-ID stays; the stream then goes on from the
   * oldest kept. A 4xx instead would stop EventSource for good.
   */
  async #tellPruned(): Promise<void> {
    const after = this.#cursor;
    if (after === undefined) return;
    const oldest = await this.deps.oldestEvent();
    if (oldest === undefined || oldest.seq <= after + 1) return;
    const data = { oldest_kept_seq: oldest.seq, last_event_id: after };
    this.#write(`event: pruned\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** The client took something (or the stream started): catch up while little is queued. */
  async #pull(): Promise<void> {
    await this.#ready;
    this.#noteReads();
    try {
      while (this.#behind && !this.#done && this.deps.maxQueued - this.#free() <= this.#ahead / 2) {
        await this.#catchUp();
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Queues the next page of what the client lacks; live again once it has everything up to `upTo`. */
  async #catchUp(): Promise<void> {
    const target = this.#upTo as number;
    if (this.#cursor === target) {
      this.#behind = false;
      return;
    }
    const limit = Math.min(PAGE, this.#free());
    const page = await this.deps.store.readEvents({
      after: this.#cursor as number,
      upTo: target,
      limit,
      ...this.filter,
    });
    if (this.#done) return;
    for (const event of page) this.#write(frame(event), event.seq);
    // Synchronously with the check: the feed hands over every event after `target` from now on.
    if (page.length < limit && this.#upTo === target) this.#behind = false;
  }

  #deliver(event: OrderEvent): void {
    if (this.#done) return;
    if (!this.#behind && this.#free() <= 0) {
      this.#behind = true;
      this.#waitForClient();
    }
    if (this.#behind) this.#upTo = event.seq;
    else this.#write(frame(event), event.seq);
  }

  #write(text: string, seq?: number): void {
    if (this.#done) return;
    this.#noteReads();
    this.#controller.enqueue(encoder.encode(text));
    this.#room = this.#free();
    if (seq !== undefined) this.#cursor = seq;
    if (this.#room <= 0) this.#waitForClient();
  }

  /** Room in the client's queue, in events (comments count too). */
  #free(): number {
    return this.#controller.desiredSize ?? 0;
  }

  #noteReads(): void {
    const free = this.#free();
    if (free > this.#room) this.#readAt = Date.now();
    this.#room = free;
  }

  /**
   * The stream waits for its client (behind, or its queue full): from now on, if the client reads
   * nothing for `stallMs` while it still waits, it is cut off.
   */
  #waitForClient(): void {
    if (this.#stallTimer !== undefined || this.#done) return;
    this.#readAt = Date.now();
    const check = () => {
      this.#stallTimer = undefined;
      if (this.#done || !(this.#behind || this.#free() <= 0)) return;
      this.#noteReads();
      const idle = Date.now() - this.#readAt;
      if (idle < this.deps.stallMs) this.#stallTimer = setTimeout(check, this.deps.stallMs - idle);
      else this.#fail();
    };
    this.#stallTimer = setTimeout(check, this.deps.stallMs);
  }

  /** Ends the response; with no reason (a stalled client), nothing is logged as a server error. */
  #fail(error?: unknown): void {
    if (this.#done) return;
    this.#finish();
    this.#controller.error(error);
  }

  #finish(): void {
    this.#done = true;
    this.#watch?.stop();
    clearInterval(this.#heartbeat);
    clearTimeout(this.#stallTimer);
  }
}
