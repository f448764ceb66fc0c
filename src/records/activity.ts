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
  /**
   * A module's steps over the last minute, by step name, in the order they first came (absent in
   * reports of replicas from before steps).
   */
  steps?: Record<string, StepActivity>;
};

/** One step's outcomes over the last minute, and its completed runs per latency bucket. */
export type StepActivity = {
  buckets: number[];
  failed: number;
  compensated: number;
  compensationFailed: number;
};
