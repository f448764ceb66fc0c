/**
 * The live feed of order events for this process: one reader of the event table, shared by every
 * long-poll and SSE client, that runs only while someone watches. It starts at the latest event,
 * reads what was committed after it whenever storage says events may have been (this process's
 * writes, or another replica's through the adapter) and at least every `pollMs`, and hands each
 * event to the watchers whose filter it matches. However many clients watch, the database sees one
 * small read per wake-up, at most one every `minIntervalMs`.
 */
import { tooManyWatchers } from "../kit/errors.ts";
import type { OrderEvent } from "../records/order.ts";
import type { EventStore } from "./store.ts";

/** Which events a watcher wants: all of them, one order's or one user's. */
export type EventFilter = { orderId?: string; userId?: string };

/**
 * A client of the feed: `deliver` is called with each matching event, in stream order; `end` when
 * the feed closes (the service is shutting down), so the client can answer and let go.
 */
export type Watcher = { filter: EventFilter; deliver: (event: OrderEvent) => void; end: () => void };

/**
 * A watch in progress: every event after `position` reaches the watcher until `stop()`, and none
 * before it. Events may arrive before the caller has seen `position`: they are all after it.
 */
export type Watch = { position: number; stop: () => void };

const PAGE = 500;

export class EventFeed {
  // Watchers of one order, by order id (a long-poll's), and the others (SSE streams).
  readonly #byOrder = new Map<string, Set<Watcher>>();
  readonly #wide = new Set<Watcher>();
  #size = 0;
  #cursor: number | undefined;
  #starting: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reading = false;
  #again = false;
  #lastReadAt = 0;
  // Bumped whenever the feed stops: a start or a read begun before belongs to an older run and
  // must not touch this one (its cursor, its watchers).
  #generation = 0;
  #closed = false;

  constructor(
    private readonly store: EventStore,
    private readonly options: {
      pollMs: number;
      minIntervalMs: number;
      /** Watchers at once; one more is refused with 503 OVERLOADED (each holds a connection). */
      maxWatchers: number;
      onError: (error: unknown) => void;
    },
  ) {}

  /** How many watchers there are now. */
  get watchers(): number {
    return this.#size;
  }

  /** Throws 503 OVERLOADED when no more watchers are taken. */
  checkRoom(): void {
    if (this.#size >= this.options.maxWatchers) throw tooManyWatchers(this.options.maxWatchers);
  }

  /**
   * Adds `watcher`; resolves once the feed runs, with the position after which it gets every event
   * (and only those). Throws 503 OVERLOADED past `maxWatchers`.
   */
  async watch(watcher: Watcher): Promise<Watch> {
    if (this.#closed) {
      watcher.end();
      return { position: 0, stop: () => {} };
    }
    this.checkRoom();
    // A read in flight may hand over events while this watch waits for the feed to start: they are
    // at or before the position it resolves with, and a replay up to that position would send
    // them a second time. So nothing is delivered before the position is taken.
    let positioned = false;
    const entry: Watcher = {
      ...watcher,
      deliver: (event) => {
        if (positioned) watcher.deliver(event);
      },
    };
    this.#add(entry);
    try {
      this.#starting ??= this.#start();
      await this.#starting;
    } catch (error) {
      this.#remove(entry);
      throw error;
    }
    positioned = true;
    return { position: this.#cursor ?? 0, stop: () => this.#remove(entry) };
  }

  /** Ends every watcher (long-polls answer, streams end) and stops reading, for good. */
  close(): void {
    this.#closed = true;
    const watchers = [...this.#wide, ...[...this.#byOrder.values()].flatMap((set) => [...set])];
    this.#byOrder.clear();
    this.#wide.clear();
    this.#size = 0;
    this.#stop();
    for (const watcher of watchers) watcher.end();
  }

  async #start(): Promise<void> {
    const generation = this.#generation;
    let latest: number;
    try {
      latest = await this.store.latestEventSeq();
    } catch (error) {
      if (generation === this.#generation) this.#starting = undefined;
      throw error;
    }
    if (generation !== this.#generation) return;
    this.#cursor = latest;
    if (this.#size === 0) return this.#stop();
    this.#unsubscribe = this.store.subscribe(() => this.#wake());
    this.#schedule(this.options.pollMs);
  }

  #stop(): void {
    this.#generation++;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#cursor = undefined;
    this.#starting = undefined;
  }

  #add(watcher: Watcher): void {
    const { orderId } = watcher.filter;
    if (orderId === undefined) this.#wide.add(watcher);
    else {
      const set = this.#byOrder.get(orderId) ?? new Set();
      set.add(watcher);
      this.#byOrder.set(orderId, set);
    }
    this.#size++;
  }

  #remove(watcher: Watcher): void {
    const { orderId } = watcher.filter;
    const set = orderId === undefined ? this.#wide : this.#byOrder.get(orderId);
    if (!set?.delete(watcher)) return;
    if (orderId !== undefined && set.size === 0) this.#byOrder.delete(orderId);
    if (--this.#size === 0) this.#stop();
  }

  /** Something may have been committed: read soon (at most one read every minIntervalMs). */
  #wake(): void {
    if (this.#reading) {
      this.#again = true;
      return;
    }
    const wait = this.#lastReadAt + this.options.minIntervalMs - Date.now();
    if (wait > 0) this.#schedule(wait);
    else void this.#read();
  }

  #schedule(delayMs: number): void {
    if (this.#cursor === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#read(), delayMs);
  }

  async #read(): Promise<void> {
    if (this.#reading || this.#cursor === undefined) return;
    const generation = this.#generation;
    this.#reading = true;
    this.#again = false;
    clearTimeout(this.#timer);
    try {
      for (;;) {
        const events = await this.store.readEvents({ after: this.#cursor, limit: PAGE });
        for (const event of events) {
          // Stopped meanwhile (the last watcher left, maybe during this very delivery): these
          // events belong to no one; a new run starts from its own position.
          if (generation !== this.#generation) return;
          this.#cursor = event.seq;
          this.#deliver(event);
        }
        if (events.length < PAGE || generation !== this.#generation) break;
      }
    } catch (error) {
      this.options.onError(error);
    } finally {
      this.#reading = false;
      this.#lastReadAt = Date.now();
      if (this.#again) this.#schedule(this.options.minIntervalMs);
      else this.#schedule(this.options.pollMs);
    }
  }

  #deliver(event: OrderEvent): void {
    for (const watcher of this.#byOrder.get(event.orderId) ?? []) watcher.deliver(event);
    for (const watcher of this.#wide) {
      const { userId } = watcher.filter;
      if (userId === undefined || userId === event.userId) watcher.deliver(event);
    }
  }
}
