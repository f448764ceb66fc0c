import { expect, test } from "bun:test";
import { backlogAgeMs, isLagging } from "./lagging.ts";

test("a subscription lags once its oldest undelivered event is older than the limit, not at it", () => {
  const backlog = { oldestAt: 1000 };
  expect(isLagging(undefined, 1_000_000, 500)).toBe(false);
  expect(isLagging(backlog, 1500, 500)).toBe(false);
  expect(isLagging(backlog, 1501, 500)).toBe(true);
  expect(backlogAgeMs(backlog, 1501)).toBe(501);
  expect(backlogAgeMs(undefined, 1501)).toBe(0);
  // An event committed by a replica whose clock runs ahead of this one's is not of a negative age.
  expect(backlogAgeMs(backlog, 900)).toBe(0);
  expect(isLagging(backlog, 900, 500)).toBe(false);
});
