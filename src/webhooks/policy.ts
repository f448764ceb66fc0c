/**
 * The webhook sender's decisions as pure functions: what an attempt's result means for its
 * delivery (delivered, sent again after its backoff, or dead after the last allowed attempt).
 * They unit-test without a database or a network (policy.test.ts).
 */
import { type RetryRules, retryAfter } from "../jobs/backoff.ts";
import type { DeliveryResult } from "./send.ts";
import type { DeliveryOutcome, DueDelivery } from "./store.ts";

/** What to record for one attempt of `delivery` made by `owner`, its result known at `at`. */
export function decideDelivery(
  owner: string,
  delivery: Pick<DueDelivery, "seq" | "attempts">,
  result: DeliveryResult,
  at: number,
  rules: RetryRules,
): DeliveryOutcome {
  const { seq } = delivery;
  const status = result.status ?? null;
  if (result.ok) return { kind: "delivered", seq, owner, at, status: status ?? 200 };
  const error = result.error ?? `HTTP ${status}`;
  const again = retryAfter(delivery.attempts + 1, at, rules);
  if (!again) return { kind: "dead", seq, owner, at, error, status };
  return { kind: "retry", seq, owner, at, nextAttemptAt: again.runAt, error, status };
}
