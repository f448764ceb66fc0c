/**
 * The storage contract of the retention port (src/retention/store.ts), on every adapter: the
 * oldest history goes a bounded batch at a time, what is still work or still referred to stays,
 * and the newest row of a table is never deleted. Called from each adapter's storage test file
 * beside `describeStorageContract`.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as lifecycle from "../src/lifecycle.ts";
import type { NewOrder } from "../src/records/order.ts";
import type { Storage } from "../src/storage.ts";

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;
const FINAL = [...lifecycle.FINAL_STATUSES];

const newOrder = (orderId: string, createdAt: number): NewOrder => ({
  orderId,
  userId: "user_1",
  itemIds: ["item_1"],
  currency: "USD",
  totalMinor: 100,
  cart: null,
  createdAt,
});

/** Registers the retention contract for one adapter; `open` gives a fresh, empty storage. */
export function describeRetentionContract(name: string, open: () => Promise<Storage>): void {
  describe(`retention contract: ${name}`, () => {
    let storage: Storage;
    beforeEach(async () => {
      storage = await open();
    });
    afterEach(async () => {
      await storage.close();
    });

    /** Creates each order at its time, one after another (seq follows the list). */
    async function create(...orders: [string, number][]) {
      for (const [id, at] of orders)
        expect(await storage.orders.createOrder(newOrder(id, at), lifecycle.created())).toEqual({
          created: true,
        });
    }
    const eventsOf = async (id: string) => (await storage.orders.listOrderEvents(id)).map((e) => e.type);

    test("events older than `before` go oldest first, a batch at a time; the newest always stays", async () => {
      await create(["a", T0], ["b", T0 + 1], ["c", T0 + 2], ["d", T0 + 3]);
      const first = await storage.retention.pruneEvents({ before: T0 + 2, after: 0, limit: 1 });
      expect(first.deleted).toBe(1);
      expect(first.next).toBeNumber();
      const second = await storage.retention.pruneEvents({
        before: T0 + 2,
        after: first.next ?? 0,
        limit: 1,
      });
      expect(second.deleted).toBe(1);
      const third = await storage.retention.pruneEvents({
        before: T0 + 2,
        after: second.next ?? 0,
        limit: 1,
      });
      expect(third).toEqual({ deleted: 0 });
      expect(await eventsOf("a")).toEqual([]);
      expect(await eventsOf("b")).toEqual([]);
      expect(await eventsOf("c")).toEqual(["created"]);
      const [cCreated] = await storage.orders.listOrderEvents("c");
      expect(await storage.retention.oldestEvent()).toEqual({ seq: cCreated?.seq ?? -1, at: T0 + 2 });
      // However old, the newest event stays (SQLite would otherwise hand its seq out again).
      expect(await storage.retention.pruneEvents({ before: T0 + MINUTE, after: 0, limit: 100 })).toEqual({
        deleted: 1,
      });
      expect(await eventsOf("d")).toEqual(["created"]);
      // The orders themselves are untouched.
      expect((await storage.orders.findOrder("a"))?.status).toBe("pending");
    });

    test("deliveries: sent and dead ones go, pending ones stay; a kept delivery holds its event", async () => {
      await storage.webhooks.createWebhook(
        { id: "w", url: "https://example.com/w", secret: "whsec_w", eventTypes: null, createdAt: T0 - 1 },
        10,
      );
      await create(["x", T0], ["y", T0 + 10 * MINUTE]);
      const far = T0 + 60 * MINUTE;
      // Both deliveries pending: nothing goes, and x's event is held by its delivery.
      expect(await storage.retention.pruneDeliveries({ before: far, after: 0, limit: 100 })).toEqual({
        deleted: 0,
      });
      expect((await storage.retention.pruneEvents({ before: far, after: 0, limit: 100 })).deleted).toBe(0);
      const claimed = await storage.webhooks.claimDeliveries({
        owner: "s",
        limit: 1,
        now: far,
        leaseUntil: far + 1,
      });
      expect(claimed.map((d) => d.event.orderId)).toEqual(["x"]);
      await storage.webhooks.settleDeliveries([
        { kind: "dead", seq: claimed[0]?.seq ?? -1, owner: "s", at: far, error: "HTTP 500", status: 500 },
      ]);
      expect(await storage.retention.pruneDeliveries({ before: far, after: 0, limit: 100 })).toEqual({
        deleted: 1,
      });
      const left = await storage.webhooks.listDeliveries({ webhookId: "w", afterSeq: 0, limit: 10 });
      expect(left.map((d) => d.status)).toEqual(["pending"]);
      // Now only y's delivery (created with y's event) is kept: x's event may go.
      expect((await storage.retention.pruneEvents({ before: far, after: 0, limit: 100 })).deleted).toBe(1);
      expect(await eventsOf("x")).toEqual([]);
      expect(await eventsOf("y")).toEqual(["created"]);
    });

    test("orders go only in a final status, once their events are gone; the newest stays", async () => {
      await create(["a", T0], ["b", T0 + 1]);
      expect(
        (await storage.orders.changeOrder("a", { transition: lifecycle.cancelled() }, T0 + 2)).changed,
      ).toBe(true);
      await create(["c", T0 + 3]);
      const far = T0 + MINUTE;
      // a is cancelled but its history is still there: it stays.
      expect(await storage.retention.pruneOrders({ before: far, after: 0, limit: 100 }, FINAL)).toEqual({
        deleted: 0,
      });
      expect((await storage.retention.pruneEvents({ before: far, after: 0, limit: 100 })).deleted).toBe(3);
      expect(await storage.retention.pruneOrders({ before: far, after: 0, limit: 100 }, FINAL)).toEqual({
        deleted: 1,
      });
      expect(await storage.orders.findOrder("a")).toBeUndefined();
      // b is pending (work, not history); c is the newest order.
      expect((await storage.orders.findOrder("b"))?.status).toBe("pending");
      expect((await storage.orders.findOrder("c"))?.status).toBe("pending");
      // A pruned order_id is free again: posting it makes a new order.
      expect(await storage.orders.createOrder(newOrder("a", far), lifecycle.created())).toEqual({
        created: true,
      });
    });
  });
}
