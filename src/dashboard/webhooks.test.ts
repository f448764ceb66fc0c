import { expect, test } from "bun:test";
import type { Webhook } from "../records/webhook.ts";
import type { Backlog } from "../webhooks/store.ts";
import { WebhookLag } from "./webhooks.ts";

/** A fake outbox on a fake clock: each backlogs() read takes `readMs` of it; calls are counted. */
function fakeOutbox(backlogs: Backlog[], subscriptions: Record<string, string>, readMs = 0) {
  const clock = { now: 100_000 };
  const calls = { backlogs: 0, findWebhook: [] as string[] };
  const store = {
    backlogs: async () => {
      calls.backlogs++;
      clock.now += readMs;
      return backlogs;
    },
    findWebhook: async (id: string) => {
      calls.findWebhook.push(id);
      const url = subscriptions[id];
      return url === undefined ? undefined : ({ id, url } as Webhook);
    },
  };
  const lag = new WebhookLag({ store, laggingAfterMs: 1000 }, () => clock.now);
  return { clock, calls, lag };
}

test("furthest behind first, lagging by the rule of GET /webhooks, named by origin only", async () => {
  const { clock, calls, lag } = fakeOutbox(
    [
      { webhookId: "in-time", pending: 2, oldestAt: 99_500 },
      { webhookId: "late", pending: 7, oldestAt: 90_000 },
      { webhookId: "deleted", pending: 1, oldestAt: 95_000 },
    ],
    {
      "in-time": "https://a.example/hooks?token=secret",
      late: "http://user:pass@b.example:8080/x",
    },
  );
  expect(await lag.section(clock.now)).toEqual({
    lagging_after_ms: 1000,
    pending: 10,
    subscriptions_behind: 3,
    subscriptions_lagging: 2,
    behind: [
      { id: "late", origin: "http://b.example:8080", pending: 7, oldest_age_ms: 10_000, lagging: true },
      // Deleted after the read: its deliveries went with it, it is not listed.
      { id: "in-time", origin: "https://a.example", pending: 2, oldest_age_ms: 500, lagging: false },
    ],
  });
  // Each origin is looked up once: a subscription's URL never changes.
  await lag.section(clock.now);
  expect(calls.backlogs).toBe(2);
  expect(calls.findWebhook.toSorted()).toEqual(["deleted", "deleted", "in-time", "late"]);
});

test("a fast read is made for every computation; a slow one is reused meanwhile, its ages climbing", async () => {
  const fast = fakeOutbox([{ webhookId: "w", pending: 1, oldestAt: 99_500 }], { w: "https://w.example/" });
  await fast.lag.section(fast.clock.now);
  fast.clock.now += 1000;
  await fast.lag.section(fast.clock.now);
  expect(fast.calls.backlogs).toBe(2);

  // 40 ms a read: the next one waits 50 × 40 ms = 2 s.
  const slow = fakeOutbox(
    [{ webhookId: "w", pending: 1, oldestAt: 99_500 }],
    { w: "https://w.example/" },
    40,
  );
  expect((await slow.lag.section(slow.clock.now)).behind[0]).toMatchObject({
    oldest_age_ms: 500,
    lagging: false,
  });
  slow.clock.now += 1000;
  expect((await slow.lag.section(slow.clock.now)).behind[0]).toMatchObject({
    oldest_age_ms: 1540,
    lagging: true,
  });
  expect(slow.calls.backlogs).toBe(1);
  slow.clock.now += 1000;
  await slow.lag.section(slow.clock.now);
  expect(slow.calls.backlogs).toBe(2);
});

test("computations that come while a read runs share it", async () => {
  const { clock, calls, lag } = fakeOutbox([], {});
  const [a, b] = await Promise.all([lag.section(clock.now), lag.section(clock.now)]);
  expect(calls.backlogs).toBe(1);
  expect(a).toEqual(b);
  expect(a).toEqual({
    lagging_after_ms: 1000,
    pending: 0,
    subscriptions_behind: 0,
    subscriptions_lagging: 0,
    behind: [],
  });
});
