/**
 * The queue's storage port: record what workers reported and claim due orders, in one call, as
 * arrays, so an adapter can run a whole pump in one transaction (and one round trip). Every adapter
 * under src/db/ implements it; test/storage-contract.ts defines its behaviour.
 */
import type { ClaimRequest, SettleAndClaimResult, Settlement } from "../order.ts";

export type { ClaimRequest, SettleAndClaimResult, Settlement };

/** What the queue needs from storage. */
export type QueueStore = {
  /**
   * Records `settlements`, then claims due pending orders for each request in turn: each claimed
   * order becomes `processing`, held by the request's owner until `leaseUntil` (renewed by
   * `renewLeases` while it is worked on), `attempts` + 1, `startedAt` = now.
   */
  settleAndClaim(args: {
    settlements: Settlement[];
    claims: ClaimRequest[];
    now: number;
    leaseUntil: number;
  }): Promise<SettleAndClaimResult>;
  /**
   * Extends to `until` the lease of each of these orders that its owner still holds, and returns
   * the seqs it extended: a listed order missing from them was lost to its owner (rescued after
   * its lease ran out, or settled meanwhile). By order, not by owner: an order claimed in a
   * transaction whose answer was lost (the connection dropped after the commit) is held by a live
   * owner that does not know it, and must expire to be rescued.
   */
  renewLeases(args: { held: { seq: number; owner: string }[]; until: number }): Promise<number[]>;
  /** Puts every order `owner` holds back to pending, due now (its worker died or shutdown ran out). */
  releaseOrders(args: { owner: string; now: number }): Promise<number>;
  /**
   * Rescue: puts every processing order whose lease ended before `now` back to pending, due now;
   * its holder is gone (a replica killed, a machine lost). Returns how many.
   */
  releaseExpiredLeases(now: number): Promise<number>;
  /**
   * Calls `listener` when another process may have made orders due (new orders on a shared
   * database), so an idle dispatcher claims them at once instead of at its next poll. Returns the
   * unsubscribe function. A store only this process writes to never calls it.
   */
  subscribe(listener: () => void): () => void;
};
