/**
 * The dispatcher: the queue's policy, on the main thread. It decides every queue write (what a
 * result means, when to retry, how many orders to claim) and hands claimed orders to the worker
 * threads (worker-pool.ts). Storage is the queue port (store.ts); it never sees which database.
 *
 * One "pump" at a time sends one `settleAndClaim`: it records the results workers reported since
 * the last pump, then claims as many due orders as the workers have free slots, in one call (one
 * transaction on SQLite). Only after that call is durable are the claimed orders posted to the
 * workers. Why this shape: four threads each committing their own updates starved each other,
 * while one writer batching claims and completions was about ten times as fast (figures:
 * docs/PERFORMANCE.md). Claiming only free slots keeps everything else `pending`, so it stays
 * cancellable, and a crash can only interrupt orders that were really being processed.
 */

import { Claims } from "../jobs/claims.ts";
import { LeaseKeeper } from "../jobs/lease-keeper.ts";
import { Serial } from "../jobs/serial.ts";
import * as lifecycle from "../lifecycle.ts";
import { HandOver } from "./hand-over.ts";
import type { Reported } from "./messages.ts";
import { ignoreQueue, type QueueObserver } from "./observer.ts";
import { claimRequests, type FreeSlots, freeSlots, outcomeOf, settle, shareClaimed } from "./policy.ts";
import { StepRecorder } from "./step-recorder.ts";
import type { QueueStore } from "./store.ts";
import { Watchdog } from "./watchdog.ts";
import type { Workers } from "./worker-pool.ts";

/** What the dispatcher needs. */
export type DispatcherDeps = {
  queue: QueueStore;
  /** The worker threads (worker-pool.ts), not started: the dispatcher starts them and listens. */
  workers: Workers;
  now: () => number;
  /** Orders one thread runs at once (WORKER_CONCURRENCY). */
  concurrency: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** How long a claim holds an order; renewed every third of it while the order is worked on. */
  leaseMs: number;
  /** Each attempt's deadline (PROCESSING_TIMEOUT_MS): a thread silent well past it is replaced. */
  processingTimeoutMs: number;
  log: (level: "info" | "warn" | "error", message: string, extra?: Record<string, unknown>) => void;
  /** Told of each claim, outcome and release once it is committed (the queue metrics). */
  observer?: QueueObserver;
};

// Upper bound on how long an idle dispatcher sleeps before looking for due retries again.
const MAX_IDLE_MS = 1000;

/** Runs the processing queue; see the file comment. */
export class Dispatcher {
  /** The worker threads, for health checks (and tests that kill one). */
  readonly pool: Workers;
  // Orders each worker thread holds: the slots in use and the leases to renew.
  private readonly held = new Claims();
  private readonly leases: LeaseKeeper;
  private readonly handOver: HandOver;
  private readonly steps: StepRecorder;
  private reported: Reported[] = [];
  // Whether the module exports steps (every thread loads the same one): settle() needs it for
  // failures no thread described (the watchdog's).
  private durable = false;
  // One pump at a time; a wake-up during one asks for one more after it.
  private readonly pumps = new Serial(
    () => this.pump(),
    (error) => this.deps.log("error", "queue pump failed", { error: String(error) }),
  );
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopping = false;
  private drained: (() => void) | undefined;
  private readonly watchdog: Watchdog;
  private watchdogTimer: ReturnType<typeof setInterval> | undefined;
  private leaseTimer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly observer: QueueObserver;

  constructor(private readonly deps: DispatcherDeps) {
    this.observer = deps.observer ?? ignoreQueue;
    this.pool = deps.workers;
    this.leases = new LeaseKeeper({
      store: {
        renewLeases: (args) => deps.queue.renewLeases(args),
        rescue: (now) => deps.queue.releaseExpiredLeases({ now, released: lifecycle.leaseExpired() }),
      },
      jobs: "orders",
      claims: this.held,
      now: deps.now,
      leaseMs: deps.leaseMs,
      observer: this.observer,
      log: deps.log,
      onLost: (owner, orderId, why) =>
        this.pool.cancel(owner, [orderId], `the claim on this order was lost: its lease ${why}`),
      onRescued: () => this.wake(),
    });
    this.watchdog = new Watchdog({ claims: this.held, timeoutMs: deps.processingTimeoutMs, log: deps.log });
    this.handOver = new HandOver({
      claims: this.held,
      leases: this.leases,
      workers: this.pool,
      now: deps.now,
      leaseMs: deps.leaseMs,
      maxAttempts: deps.maxAttempts,
      observer: this.observer,
      log: deps.log,
      release: (owner) => void this.releaseOrders(owner, deps.now()),
      wake: () => this.wake(),
    });
    this.steps = new StepRecorder({
      queue: deps.queue,
      claims: this.held,
      workers: this.pool,
      now: deps.now,
      log: deps.log,
      observer: this.observer,
    });
  }

  /** Starts the worker threads; orders are claimed as soon as the first one is ready. */
  start(): void {
    this.pool.start({
      ready: (owner, durable) => {
        this.durable = durable;
        this.held.open(owner);
        this.wake();
      },
      results: (owner, results) => {
        const at = this.deps.now();
        for (const result of results) {
          const claim = this.held.get(owner, result.orderId);
          if (claim) claim.reported = true;
          this.reported.push({ owner, result, at });
        }
        this.wake();
      },
      steps: (owner, steps) => this.steps.add(owner, steps),
      exited: (owner) => this.release(owner),
    });
    this.watchdogTimer = setInterval(() => this.checkDeadlines(), MAX_IDLE_MS);
    this.leaseTimer = setInterval(() => void this.leases.tick(), this.leases.intervalMs);
    // Orders created by other processes (replicas on a shared database) wake this one at once.
    this.unsubscribe = this.deps.queue.subscribe(() => this.wake());
  }

  /** Orders currently held by workers. */
  inFlight(): number {
    return this.held.total();
  }

  /** Asks for a pump soon: new orders were committed, a slot freed up, or a retry became due. */
  wake(): void {
    if (this.stopping && this.reported.length === 0) return;
    this.pumps.request();
  }

  private async pump(): Promise<void> {
    const reported = this.reported;
    this.reported = [];
    const now = this.deps.now();
    // How long each took is observed only once its settlement is committed (a failed pump decides
    // the same results again next time).
    const { settlements, tookMs } = settle(reported, this.held, now, { ...this.deps, durable: this.durable });
    const { unresponsive } = this.watchdog;
    const answering = this.pool.readyOwners().filter((owner) => !unresponsive.has(owner));
    const slots: FreeSlots[] = this.stopping
      ? []
      : freeSlots(answering, this.held, reported, this.deps.concurrency);
    const replacing = this.watchdog.recordedIn(reported);
    try {
      // Nothing to record and no slot free (a wake-up while every slot is busy): no storage call.
      const idle = settlements.length === 0 && slots.length === 0;
      const { claimed, nextDueAt } = idle
        ? { claimed: [], nextDueAt: undefined }
        : await this.deps.queue.settleAndClaim({
            settlements,
            claims: claimRequests(slots),
            now,
            leaseUntil: now + this.deps.leaseMs,
          });
      if (!idle) this.observer.timed("pump", this.deps.now() - now);
      for (const { owner, result } of reported) this.held.delete(owner, result.orderId);
      for (const [i, settlement] of settlements.entries()) {
        this.observer.settled(outcomeOf(settlement), tookMs[i] ?? 0, settlement);
        // A step that failed its attempt (not a compensation's failure; an ended compensation
        // names no step).
        const { step, compensating } = settlement.transition.details ?? {};
        if (typeof step === "string" && !compensating)
          this.observer.step(step, "failed", undefined, settlement.seq);
      }
      const leaseUntil = now + this.deps.leaseMs;
      const shares = shareClaimed(slots, claimed);
      for (const [i, { owner }] of slots.entries()) this.handOver.hand(owner, shares[i] ?? [], leaseUntil);
      if (nextDueAt !== undefined) this.scheduleNextDue(nextDueAt, now);
      // Their overdue attempts are recorded now: replace the threads (the rest they held is released).
      for (const owner of replacing) this.pool.kill(this.watchdog.forget(owner));
    } catch (error) {
      // The call failed as a whole (on SQLite the transaction rolled back), so nothing was claimed:
      // keep the results and record them on the next pump.
      this.deps.log("error", "queue pump failed; retrying", { error: String(error) });
      this.reported = reported.concat(this.reported);
      await Bun.sleep(100);
    }
    if (this.stopping && this.inFlight() === 0) this.drained?.();
    // Results that came in meanwhile asked for this already; these are the ones kept from a failure.
    if (this.reported.length > 0) this.wake();
  }

  /** Threads silent well past an attempt's deadline: their attempts fail, the threads are replaced (watchdog.ts). */
  private checkDeadlines(): void {
    this.reported.push(...this.watchdog.check(this.deps.now()));
    if (this.watchdog.unresponsive.size > 0) this.wake();
  }

  /** A worker thread died: forget what it held and put those orders back to pending at once. */
  private release(owner: string): void {
    this.deps.log("warn", "worker thread exited; releasing its orders and replacing it", { worker: owner });
    this.held.close(owner);
    this.watchdog.forget(owner);
    this.reported = this.reported.filter((entry) => entry.owner !== owner);
    void this.releaseOrders(owner, this.deps.now());
  }

  /**
   * Puts back to pending whatever `owner` holds (outside the pump); the observer hears how many. A
   * failure is logged: the rows stay processing, and their leases run out and are rescued.
   */
  private releaseOrders(owner: string, now: number): Promise<void> {
    return this.deps.queue.releaseOrders({ owner, now, released: lifecycle.workerStopped() }).then(
      (count) => this.observer.released(count),
      (error) =>
        this.deps.log("error", "queue write failed", { write: "releaseOrders", error: String(error) }),
    );
  }

  /** Sleeps until the earliest pending order is due (at most MAX_IDLE_MS, to notice anything missed). */
  private scheduleNextDue(dueAt: number | null, now: number): void {
    clearTimeout(this.timer);
    const delay = dueAt === null ? MAX_IDLE_MS : Math.min(MAX_IDLE_MS, Math.max(1, dueAt - now));
    this.timer = setTimeout(() => this.wake(), delay);
  }

  /**
   * Graceful stop: claim nothing more, let the workers finish what they hold for up to
   * `timeoutMs`, then release whatever is left back to pending for the next start.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdogTimer);
    clearInterval(this.leaseTimer);
    this.unsubscribe?.();
    if (this.inFlight() > 0) {
      const drained = new Promise<void>((resolve) => {
        this.drained = resolve;
      });
      await Promise.race([drained, Bun.sleep(timeoutMs)]);
    }
    this.pool.abort();
    const owners = this.held.busyOwners();
    if (owners.length > 0) {
      this.deps.log("warn", "shutdown timed out; returning unfinished orders to pending", {
        orders: this.inFlight(),
      });
      const now = this.deps.now();
      await Promise.all(owners.map((owner) => this.releaseOrders(owner, now)));
    }
    await this.pool.stop();
  }
}
