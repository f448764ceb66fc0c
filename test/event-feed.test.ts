/**
 * The event feed against a real SQLite storage: it reads only while someone watches (also when the
 * last watcher leaves in the middle of a page of events), and closing it ends its watchers.
 */

import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { openSqliteStorage } from "../src/db/sqlite/storage.ts";
import { EventFeed } from "../src/events/feed.ts";
import type { EventStore } from "../src/events/store.ts";
import { created, restarted } from "../src/lifecycle.ts";
import type { OrderEvent } from "../src/records/order.ts";
import { cleanup, tempDir } from "./helpers.ts";

afterEach(cleanup);

/** A real storage, and its events port with the reads counted. */
async function countedStore() {
  const storage = await openSqliteStorage(
    { path: join(tempDir(), "orders.db"), synchronous: "FULL", restarted: restarted() },
    { log: () => {}, onFatal: () => {} },
  );
  let reads = 0;
  const events: EventStore = {
    ...storage.events,
    readEvents: (query) => {
      reads++;
      return storage.events.readEvents(query);
    },
  };
  const create = (orderId: string) =>
    storage.orders.createOrder(
      {
        orderId,
        userId: "u",
        itemIds: ["i"],
        currency: "USD",
        totalMinor: 1,
        cart: null,
        createdAt: Date.now(),
      },
      created(),
    );
  return { storage, events, create, reads: () => reads };
}

test("a watcher that leaves on the first of several events leaves the feed idle: no more reads", async () => {
  const { storage, events, create, reads } = await countedStore();
  const feed = new EventFeed(events, { pollMs: 20, minIntervalMs: 1, maxWatchers: 10, onError: () => {} });
  const seen: OrderEvent[] = [];
  const watch = await feed.watch({
    filter: {},
    deliver: (event) => {
      seen.push(event);
      watch.stop(); // as a long-poll does once its status arrives
    },
    end: () => {},
  });
  // Two events committed before the feed reads: one read returns both.
  await Promise.all([create("a"), create("b")]);
  await Bun.sleep(100);
  expect(seen.map((e) => e.orderId)).toEqual(["a"]);
  expect(feed.watchers).toBe(0);
  const after = reads();
  await Bun.sleep(200);
  expect(reads()).toBe(after);
  feed.close();
  await storage.close();
});

test("closing the feed ends every watcher, and a watch after it ends at once", async () => {
  const { storage, events } = await countedStore();
  const feed = new EventFeed(events, { pollMs: 50, minIntervalMs: 1, maxWatchers: 10, onError: () => {} });
  const ended: string[] = [];
  await feed.watch({ filter: {}, deliver: () => {}, end: () => ended.push("stream") });
  await feed.watch({ filter: { orderId: "x" }, deliver: () => {}, end: () => ended.push("long-poll") });
  feed.close();
  expect(ended.sort()).toEqual(["long-poll", "stream"]);
  expect(feed.watchers).toBe(0);
  await feed.watch({ filter: {}, deliver: () => {}, end: () => ended.push("late") });
  expect(ended).toContain("late");
  await storage.close();
});
