/**
 * The queue's storage port: record what workers reported and claim due orders, in one call, as
 * arrays, so an adapter can run a whole pump in one transaction (and one round trip). Every adapter
 * under src/db/ implements it; test/storage-contract.ts defines its behaviour.
 */
import type { Transition } from "../records/order.ts";
import type { ClaimRequest, SettleAndClaimResult, Settlement, StepRecord } from "../records/queue.ts";

export type { ClaimRequest, SettleAndClaimResult, Settlement, StepRecord };

/** What the queue needs from storage. */
export type QueueStore = {
  /**
   * Records `settlements`, then claims the oldest due orders in `claims[0].transition.from`, one
   * per request in turn: each claimed order moves to the request's `to`, held by its owner until
   * `leaseUntil` (renewed by `renewLeases` while it is worked on), `attempts` + 1, `startedAt` =
   * now. One transaction for the lot.
   */
  settleAndClaim(args: {
    settlements: Settlement[];
    claims: ClaimRequest[];
    now: number;
    leaseUntil: number;
  }): Promise<SettleAndClaimResult>;
  /**
   * Appends each record's step to its order's steps, with its event at `now`, where its owner
   * still holds the order; one transaction for the lot. Returns the seqs recorded: a record missing
   * from them lost its claim (its step is not recorded, and the attempt must stop).
   */
  recordSteps(args: { records: StepRecord[]; now: number }): Promise<number[]>;
  /**
   * Extends to `until` the lease of each of these orders that its owner still holds, and returns
   * the seqs it extended: a listed order missing from them was lost to its owner (rescued after
   * its lease ran out, or settled meanwhile). By order, not by owner: an order claimed in a
   * transaction whose answer was lost (the connection dropped after the commit) is held by a live
   * owner that does not know it, and must expire to be rescued.
   */
  renewLeases(args: { held: { seq: number; owner: string }[]; until: number }): Promise<number[]>;
  /**
   * Applies `released` to every order `owner` holds, due now (its worker died or shutdown ran
   * out); ends their hold. Returns how many.
   */
  releaseOrders(args: { owner: string; now: number; released: Transition }): Promise<number>;
  /**
   * Rescue: applies `released` to every held order whose lease ended before `now`, due now; its
   * holder is gone (a replica killed, a machine lost). Returns how many.
   */
  releaseExpiredLeases(args: { now: number; released: Transition }): Promise<number>;
  /**
   * Calls `listener` when another process may have made orders due (new orders on a shared
   * database), so an idle dispatcher claims them at once instead of at its next poll. Returns the
   * unsubscribe function. A store only this process writes to never calls it.
   */
  subscribe(listener: () => void): () => void;
};
