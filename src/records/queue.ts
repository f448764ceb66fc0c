/**
 * The records that cross the queue's storage port (src/queue/store.ts): what to record for the
 * orders worker slots held, and which orders to claim. Built above the port from the lifecycle's
 * transitions (src/queue/policy.ts); applied as given by the adapters.
 */
import type { Transition } from "../lifecycle.ts";
import type { Order, StepEntry } from "./order.ts";

/**
 * What to record for an order a worker slot held, as the queue decided it (src/queue/policy.ts):
 * its transition, and the columns it sets besides the status (unset ones keep their value). Each
 * is fenced by the claim: it changes the order only while it is in `transition.from` and held by
 * `owner`, so a result from a slot that lost its claim (its thread died and the order was
 * released) changes nothing. Settling ends the hold (no owner, no lease).
 */
export type Settlement = {
  seq: number;
  owner: string;
  transition: Transition;
  runAt?: number;
  lastError?: string;
  completedAt?: number;
};

/**
 * A step the attempt held by `owner` completed (src/queue/steps.ts): appended to the order's steps
 * with the event of `transition`, fenced like a settlement (only while the order is in
 * `transition.from` and held by `owner`). The hold stays: the attempt goes on to the next step.
 */
export type StepRecord = { seq: number; owner: string; transition: Transition; step: StepEntry };

/**
 * One order wanted by a worker slot (`owner`), taken with `transition` (every request of one call
 * has the same `from` and `to`). A claimed order gets `attempts` + 1, `startedAt` = now, and is
 * held by its owner until the lease ends.
 */
export type ClaimRequest = { owner: string; transition: Transition };

/**
 * `claimed[i]` answers `claims[i]`: the due orders, oldest first (by `runAt`, then `seq`), one per
 * request until none is left. `nextDueAt` is when the earliest pending order becomes due (null:
 * none pending) when fewer orders than requests were claimed, and undefined when every request got
 * one (call again as slots free up).
 */
export type SettleAndClaimResult = { claimed: Order[]; nextDueAt: number | null | undefined };
