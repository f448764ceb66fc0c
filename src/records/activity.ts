/** The records of the dashboard's activity port (src/dashboard/store.ts). */

/**
 * One replica's recent queue activity, as it publishes it for the dashboard every second
 * (src/dashboard/window.ts): latency counts per bucket over the last minute, which add up across
 * replicas, and running totals since the replica started.
 */
export type ActivityReport = {
  replica: string;
  at: number;
  waitBuckets: number[];
  processingBuckets: number[];
  retriesTotal: number;
  failuresTotal: number;
  slotsBusy: number;
  slotsCapacity: number;
  /** Value of the orders accepted over the last minute, in minor units, by ISO 4217 code. */
  valueByCurrency: Record<string, number>;
};
