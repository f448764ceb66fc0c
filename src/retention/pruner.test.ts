import { expect, test } from "bun:test";
import { prunableRun } from "../records/retention.ts";
import { pruneIntervalMs } from "./pruner.ts";

const DAY = 86_400_000;

test("a pass runs every tenth of the shortest retention, between 1 s and a minute", () => {
  expect(
    pruneIntervalMs({
      eventRetentionMs: 30 * DAY,
      deliveryRetentionMs: 14 * DAY,
      orderRetentionMs: undefined,
    }),
  ).toBe(60_000);
  expect(
    pruneIntervalMs({ eventRetentionMs: 30 * DAY, deliveryRetentionMs: 14 * DAY, orderRetentionMs: 300_000 }),
  ).toBe(30_000);
  expect(
    pruneIntervalMs({ eventRetentionMs: 1728, deliveryRetentionMs: 14 * DAY, orderRetentionMs: undefined }),
  ).toBe(1000);
});

test("a batch takes the leading run of old rows, never the newest, and says whether more may follow", () => {
  const rows = [
    { seq: 3, at: 10 },
    { seq: 4, at: 11 },
    { seq: 6, at: 20 },
  ];
  // Stops at the first row recent enough: nothing after it is looked at.
  expect(prunableRun(rows, { before: 15, after: 2, limit: 3 }, 100)).toEqual({ last: 4, more: false });
  // A full batch of old rows: more may follow.
  expect(prunableRun(rows, { before: 50, after: 2, limit: 3 }, 100)).toEqual({ last: 6, more: true });
  // A short batch: the table ends there.
  expect(prunableRun(rows, { before: 50, after: 2, limit: 5 }, 100)).toEqual({ last: 6, more: false });
  // The newest row of the table stays, however old.
  expect(prunableRun(rows, { before: 50, after: 2, limit: 3 }, 6)).toEqual({ last: 4, more: false });
  expect(prunableRun(rows, { before: 5, after: 2, limit: 3 }, 100)).toEqual({ last: undefined, more: false });
});
