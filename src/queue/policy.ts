/**
 * The queue's decisions as pure functions of what the dispatcher knows: what a reported attempt
 * means, how many orders each thread may be given, which threads stopped answering. The
 * dispatcher applies them; these unit-test without threads or storage (policy.test.ts).
 */

import { type RetryRules, retryAfter } from "../jobs/backoff.ts";
import type { Claim, Claims } from "../jobs/claims.ts";
import * as lifecycle from "../lifecycle.ts";
import type { Order } from "../records/order.ts";
import type { AttemptResult, Reported } from "./messages.ts";
import type { ClaimRequest, Settlement } from "./store.ts";

/** How many orders a worker thread (`owner`) may be given now. */
export type FreeSlots = { owner: string; limit: number };

/**
 * How long after a last forward attempt failed its undoing starts: past the worker thread's abort
 * grace (attempt.ts), so a step that timed out has ended, or its thread was replaced, first.
 */
export const UNDO_AFTER_MS = 1000;

/**
 * Where an attempt stands in its order's budget: MAX_ATTEMPTS attempts to run the steps, then, for
 * a module's steps, as many again to undo the completed ones (docs/STEPS.md). `lastForward`: a
 * failure now is final for the steps (compensation follows); `lastCompensation`: a compensation
 * that fails now gives up.
 */
export function attemptPlan(attempt: number, maxAttempts: number) {
  return {
    compensating: attempt > maxAttempts,
    lastForward: attempt >= maxAttempts,
    lastCompensation: attempt >= 2 * maxAttempts,
  };
}
/** An attempt's plan (what the worker thread is told with the order). */
export type AttemptPlan = ReturnType<typeof attemptPlan>;

/**
 * What to record for one reported attempt: completed, retry after its backoff, or failed for good.
 * For a module's steps: a last forward attempt that leaves steps to undo goes on to compensation
 * at once; a failed compensation attempt is retried within the compensation budget; an ended
 * compensation fails the order, saying how it ended.
 */
export function decideOutcome(
  owner: string,
  claim: Pick<Claim, "seq" | "attempts">,
  result: AttemptResult,
  now: number,
  rules: RetryRules & { durable?: boolean },
): Settlement {
  const held = { seq: claim.seq, owner };
  const told = described(result, claim.attempts, rules);
  const { error, step, compensation } = told;
  if (error === undefined) return { ...held, transition: lifecycle.completed(), completedAt: now };
  if (compensation === "compensated" && told.cancelled)
    return { ...held, transition: lifecycle.cancelCompleted() };
  if (compensation)
    return { ...held, transition: lifecycle.failed(error, step, compensation), lastError: error };
  if (told.undo) {
    const transition = lifecycle.attemptFailed(error, UNDO_AFTER_MS, step);
    return { ...held, transition, runAt: now + UNDO_AFTER_MS, lastError: error };
  }
  if (told.compensating) {
    // A compensation attempt counts in the compensation budget, past MAX_ATTEMPTS; its error is in
    // its event, and the order's last_error stays why the order failed.
    const again = retryAfter(claim.attempts - rules.maxAttempts, now, rules);
    if (!again) return { ...held, transition: lifecycle.failed(error, step) };
    const transition = lifecycle.attemptFailed(error, again.backoffMs, step, true);
    return { ...held, transition, runAt: again.runAt };
  }
  const again = retryAfter(claim.attempts, now, rules);
  if (!again) return { ...held, transition: lifecycle.failed(error, step), lastError: error };
  return {
    ...held,
    transition: lifecycle.attemptFailed(error, again.backoffMs, step),
    runAt: again.runAt,
    lastError: error,
  };
}

/**
 * A failure no thread described (the watchdog's, for a thread that stopped answering: no step, no
 * flags), for a module's steps, read from the attempt's place in the budget: past MAX_ATTEMPTS it
 * was a compensation attempt; at MAX_ATTEMPTS, the last forward one, whose completed steps are
 * undone next (an attempt that finds nothing to undo runs forward once more and then fails).
 */
function described(
  result: AttemptResult,
  attempts: number,
  rules: { maxAttempts: number; durable?: boolean },
) {
  const told = result.step !== undefined || result.undo || result.compensating || result.compensation;
  if (!rules.durable || result.error === undefined || told) return result;
  if (attempts > rules.maxAttempts) return { ...result, compensating: true };
  return attempts >= rules.maxAttempts ? { ...result, undo: true } : result;
}

/**
 * What to record for each reported attempt whose claim is still held, and how long each took
 * (hand-over to result). A result whose thread died (its orders released) or whose claim was lost
 * records nothing.
 */
export function settle(
  reported: Reported[],
  claims: Claims,
  now: number,
  rules: RetryRules & { durable?: boolean },
): { settlements: Settlement[]; tookMs: number[] } {
  const settlements: Settlement[] = [];
  const tookMs: number[] = [];
  for (const { owner, result, at } of reported) {
    const claim = claims.get(owner, result.orderId);
    if (!claim || claim.lost) continue;
    settlements.push(decideOutcome(owner, claim, result, now, rules));
    tookMs.push(at - claim.handedAt);
  }
  return { settlements, tookMs };
}

/** How the queue counts a settlement (the `outcome` label of its metrics). */
export const outcomeOf = (settlement: Settlement) =>
  lifecycle.OUTCOMES[settlement.transition.type as lifecycle.SettleTransition["type"]];

/**
 * The claim rule: the threads are filled in turn, oldest due order first, so one request per
 * order wanted, in the threads' order. Storage claims as many as are due, in that order.
 */
export function claimRequests(slots: FreeSlots[]): ClaimRequest[] {
  return slots.flatMap(({ owner, limit }) => {
    const request = { owner, transition: lifecycle.claimed(owner) };
    return Array.from({ length: limit }, () => request);
  });
}

/**
 * Which thread gets which claimed order: `claimed[i]` answered the i-th request of
 * `claimRequests(slots)`, so each thread takes the next `limit` of them; once one gets fewer than
 * it asked for, no order was due for the ones after it.
 */
export function shareClaimed(slots: FreeSlots[], claimed: Order[]): Order[][] {
  let next = 0;
  return slots.map(({ limit }) => {
    const share = claimed.slice(next, next + limit);
    next += limit;
    return share;
  });
}

/**
 * What each thread in `owners` can take: `concurrency` less what it holds, plus the held orders
 * whose results are in `reported` (the pump that settles them frees their slots). Threads with no
 * room are left out.
 */
export function freeSlots(
  owners: string[],
  claims: Claims,
  reported: { owner: string; result: AttemptResult }[],
  concurrency: number,
): FreeSlots[] {
  const freed = new Map<string, number>();
  for (const { owner, result } of reported)
    if (claims.get(owner, result.orderId)) freed.set(owner, (freed.get(owner) ?? 0) + 1);
  return owners
    .map((owner) => ({ owner, limit: concurrency - claims.count(owner) + (freed.get(owner) ?? 0) }))
    .filter(({ limit }) => limit > 0);
}

/**
 * The attempts on one step for more than `limitMs` before `now` (since their hand-over or their last
 * recorded step), by thread (skipping `skip`): their thread's own deadline timer would have
 * reported them, so the thread is not answering.
 */
export function overdueAttempts(claims: Claims, now: number, limitMs: number, skip: Set<string>) {
  const overdue = new Map<string, string[]>();
  for (const { owner, key: orderId, claim } of claims.all())
    if (!skip.has(owner) && now - claim.activeSince > limitMs)
      overdue.set(owner, [...(overdue.get(owner) ?? []), orderId]);
  return overdue;
}
