/**
 * The queue's decisions as pure functions of what the dispatcher knows: what a reported attempt
 * means, how many orders each thread may be given, which threads stopped answering. The
 * dispatcher applies them; these unit-test without threads or storage (policy.test.ts).
 */
import { retryDelayMs } from "./backoff.ts";
import type { Claim, Claims } from "./claims.ts";
import type { AttemptResult } from "./messages.ts";
import type { ClaimRequest, Settlement } from "./store.ts";

/** What to record for one reported attempt: completed, retry after its backoff, or failed for good. */
export function decideOutcome(
  owner: string,
  claim: Pick<Claim, "seq" | "attempts">,
  result: AttemptResult,
  now: number,
  rules: { maxAttempts: number; retryBaseMs: number },
): Settlement {
  const held = { seq: claim.seq, owner };
  if (result.error === undefined) return { kind: "completed", ...held };
  if (claim.attempts >= rules.maxAttempts) return { kind: "failed", ...held, error: result.error };
  const runAt = now + retryDelayMs(claim.attempts, rules.retryBaseMs);
  return { kind: "retry", ...held, runAt, error: result.error };
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
): ClaimRequest[] {
  const freed = new Map<string, number>();
  for (const { owner, result } of reported)
    if (claims.get(owner, result.orderId)) freed.set(owner, (freed.get(owner) ?? 0) + 1);
  return owners
    .map((owner) => ({ owner, limit: concurrency - claims.count(owner) + (freed.get(owner) ?? 0) }))
    .filter(({ limit }) => limit > 0);
}

/**
 * The attempts handed over more than `limitMs` before `now`, by thread (skipping `skip`): their
 * thread's own deadline timer would have reported them, so the thread is not answering.
 */
export function overdueAttempts(claims: Claims, now: number, limitMs: number, skip: Set<string>) {
  const overdue = new Map<string, string[]>();
  for (const { owner, orderId, claim } of claims.all())
    if (!skip.has(owner) && now - claim.handedAt > limitMs)
      overdue.set(owner, [...(overdue.get(owner) ?? []), orderId]);
  return overdue;
}
