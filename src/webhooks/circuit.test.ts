/** The breaker per subscription (circuit.ts), on a clock the test moves. */
import { expect, test } from "bun:test";
import { Breakers, FIRST_PAUSE_MS, MAX_PAUSE_MS, OPEN_AFTER } from "./circuit.ts";

test("OPEN_AFTER failures in a row pause a subscription; then one probe at a time; a success closes it", () => {
  let now = 0;
  const pauses: number[] = [];
  const breakers = new Breakers(
    () => now,
    (_, pauseMs) => pauses.push(pauseMs),
  );
  for (let i = 1; i < OPEN_AFTER; i++) breakers.record("dead", false);
  expect(breakers.allowance("dead", 64)).toBe(64);
  breakers.record("dead", false);
  expect(breakers.allowance("dead", 64)).toBe(0);
  expect(breakers.paused()).toEqual(["dead"]);
  // Another subscription is not touched.
  expect(breakers.allowance("live", 64)).toBe(64);

  now += FIRST_PAUSE_MS;
  expect(breakers.allowance("dead", 64)).toBe(1);
  expect(breakers.paused()).toEqual([]);
  // A failed probe pauses twice as long, up to MAX_PAUSE_MS.
  breakers.record("dead", false);
  expect(breakers.allowance("dead", 64)).toBe(0);
  for (let i = 0; i < 10; i++) {
    now += MAX_PAUSE_MS;
    breakers.record("dead", false);
  }
  expect(pauses).toEqual([
    1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000, 60_000, 60_000,
  ]);
  // A success closes it at once.
  now += MAX_PAUSE_MS;
  breakers.record("dead", true);
  expect(breakers.allowance("dead", 64)).toBe(64);
});

test("failures interleaved with successes never open it; attempts that end after it opened do not extend it", () => {
  let now = 0;
  const breakers = new Breakers(() => now);
  for (let i = 0; i < 100; i++) breakers.record("flaky", i % OPEN_AFTER !== 0);
  expect(breakers.allowance("flaky", 8)).toBe(8);
  for (let i = 0; i < OPEN_AFTER; i++) breakers.record("dead", false);
  now += 10;
  // Attempts already in flight when it opened fail too: the pause stays as it was.
  expect(breakers.record("dead", false)).toBeUndefined();
  now += FIRST_PAUSE_MS - 10;
  expect(breakers.allowance("dead", 8)).toBe(1);
});
