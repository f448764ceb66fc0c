/*
 * The samples the page keeps (five minutes of /dashboard/data's counters, one per second) and the
 * per-second rates derived from consecutive ones. Rates come from the server's running totals and
 * its own timestamps, so a poll lost on the way only makes one step wider.
 */

const HISTORY_S = 300;

/** Up to HISTORY_S seconds of samples, oldest first: { t (s), total, completed, retries, failures }. */
export const samples = [];

/**
 * Adds a sample stamped with the server's `at` (the time its counts were read, so the time
 * between two samples is the real time between the two reads, whatever the network did); a poll
 * answered from the same cached second adds nothing.
 */
export const addSample = (data) => {
  const t = Date.parse(data.at) / 1000;
  const last = samples[samples.length - 1];
  if (!Number.isFinite(t) || (last && t <= last.t)) return false;
  samples.push({
    t,
    total: data.orders.total,
    completed: data.orders.by_status.completed ?? 0,
    retries: data.retries_total,
    failures: data.failures_total,
  });
  while (samples.length > 0 && samples[0].t < t - HISTORY_S) samples.shift();
  return true;
};

/**
 * Per-second rate of `field` between samples i-1 and i. A negative difference means a counter
 * went back (a replica restarted and its running totals began again at 0): counted as 0.
 */
export const rate = (i, field) => {
  if (i === 0) return null;
  const a = samples[i - 1];
  const b = samples[i];
  const seconds = b.t - a.t;
  return seconds > 0 ? Math.max(0, b[field] - a[field]) / seconds : null;
};

/** The rate of `field` at every sample (null at the first). */
export const series = (field) => samples.map((_, i) => rate(i, field));
