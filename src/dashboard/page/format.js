/*
 * The dashboard's numbers, durations and times for people, in the browser's own locale: one
 * decimal for small values, whole numbers for large ones, "—" for anything unknown.
 */

/** Whole numbers, grouped as the locale groups them. */
export const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
/** Exactly one decimal. */
export const oneDecimal = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});
/** A time of day to the second. */
export const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A rate: one decimal under 10, whole numbers above; "—" when unknown. */
export const formatRate = (rate) =>
  rate == null ? "—" : rate < 10 ? oneDecimal.format(rate) : integer.format(Math.round(rate));

/** A duration in ms: "12 ms", "0.4 ms", "1.4 s", "—" for null. */
export const formatMs = (ms) => {
  if (ms == null) return "—";
  if (ms < 10) return `${oneDecimal.format(ms)} ms`;
  if (ms < 1000) return `${integer.format(Math.round(ms))} ms`;
  if (ms < 10_000) return `${oneDecimal.format(ms / 1000)} s`;
  return `${integer.format(Math.round(ms / 1000))} s`;
};

/** An age in ms: as formatMs under a minute, then "3 min 5 s", "2 h 4 min"; "—" for null. */
export const formatAge = (ms) => {
  if (ms == null || ms < 60_000) return formatMs(ms);
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) {
    const seconds = Math.floor((ms % 60_000) / 1000);
    return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
  }
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${integer.format(hours)} h` : `${integer.format(hours)} h ${minutes % 60} min`;
};

/** A creation time: the time alone when it is today, else the date too. */
export const formatCreated = (iso) => {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toDateString() === new Date().toDateString() ? clock.format(date) : dateTime.format(date);
};

/** A chart's time (seconds since the epoch) as a time of day; "—" when unknown. */
export const formatTime = (seconds) => (seconds == null ? "—" : clock.format(new Date(seconds * 1000)));
