/**
 * The storage contract: what every adapter under src/db/ must do, spoken only through the ports of
 * src/storage.ts (no SQL, no Drizzle), as River's riverdrivertest is for its drivers. An adapter's
 * test file calls `describeStorageContract` with a factory; the suite passes unchanged on each.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as lifecycle from "../src/lifecycle.ts";
import type { ChangeOutcome } from "../src/orders/store.ts";
import type { ClaimRequest } from "../src/queue/store.ts";
import type { ActivityReport } from "../src/records/activity.ts";
import type { CreateOutcome } from "../src/records/order.ts";
import { type NewOrder, ORDER_STATUSES, type Order, type OrderStatus } from "../src/records/order.ts";
import type { DeliveryClaim, Webhook } from "../src/records/webhook.ts";
import type { Storage } from "../src/storage.ts";
import type { DueDelivery } from "../src/webhooks/store.ts";
import { LEASE_EXPIRED, type Result, settlement, WORKER_STOPPED, wants } from "./fixtures/queue-records.ts";

const T0 = 1_700_000_000_000;
const LEASE_MS = 30_000;

/** A new order as the service would compute it; fields can be overridden. */
function newOrder(orderId: string, overrides: Partial<NewOrder> = {}): NewOrder {
  return {
    orderId,
    userId: "user_1",
    itemIds: ["item_1", "item_2"],
    currency: "USD",
    totalMinor: 15_099,
    cart: null,
    createdAt: T0,
    ...overrides,
  };
}

const idsOf = (orders: Order[]) => orders.map((order) => order.orderId);
type PerSubscription = NonNullable<DeliveryClaim["perSubscription"]>;

/** Registers the storage contract suite for one adapter; `open` gives a fresh, empty storage. */
export function describeStorageContract(name: string, open: () => Promise<Storage>): void {
  describe(`storage contract: ${name}`, () => {
    let storage: Storage;
    beforeEach(async () => {
      storage = await open();
    });
    afterEach(async () => {
      await storage.close();
    });

    /** Creates the orders one after another, so their seq follows the list. */
    async function create(...orders: NewOrder[]): Promise<void> {
      for (const order of orders) expect(await createOrder(order)).toEqual({ created: true });
    }
    const createOrder = (order: NewOrder) => storage.orders.createOrder(order, lifecycle.created());
    /** One settleAndClaim call, claims leased for LEASE_MS; `claimed[i]` answers `claims[i]`. */
    async function pump(claims: ClaimRequest[], now: number, results: Result[] = [], leaseMs = LEASE_MS) {
      const result = await storage.queue.settleAndClaim({
        settlements: results.map((r) => settlement(r, now)),
        claims,
        now,
        leaseUntil: now + leaseMs,
      });
      expect(result.claimed.length).toBeLessThanOrEqual(claims.length);
      return result;
    }
    /** What `limit` requests for `owner` claim at `now`. */
    async function claim(owner: string, limit: number, now: number): Promise<Order[]> {
      return (await pump(wants(owner, limit), now)).claimed;
    }
    /** A client's cancel at `now`. */
    const cancel = (orderId: string, now: number) =>
      storage.orders.changeOrder(orderId, { transition: lifecycle.cancelled() }, now);
    /** An operator's retry at `now`, as the service makes it: read, then change guarded by attempts. */
    async function operatorRetry(orderId: string, now: number): Promise<ChangeOutcome> {
      const order = await storage.orders.findOrder(orderId);
      if (!order) return { changed: false, order };
      const transition = lifecycle.retried(order.attempts);
      return storage.orders.changeOrder(
        orderId,
        { transition, runAt: now, attempts: 0, ifAttempts: order.attempts },
        now,
      );
    }
    const releaseOwner = (owner: string, now: number) =>
      storage.queue.releaseOrders({ owner, now, released: WORKER_STOPPED });
    const releaseExpired = (now: number) =>
      storage.queue.releaseExpiredLeases({ now, released: LEASE_EXPIRED });
    /** Claims exactly one order for `owner` at `now`. */
    async function claimOne(owner: string, now: number): Promise<Order> {
      const [order, ...rest] = await claim(owner, 1, now);
      if (!order || rest.length > 0) throw new Error(`expected one claimed order, got ${rest.length + 1}`);
      return order;
    }
    /** A claim at `now` gets nothing, and says when the next pending order becomes due. */
    async function expectNothingDue(now: number, nextDueAt: number | null): Promise<void> {
      expect(await pump(wants("idle", 5), now)).toEqual({ claimed: [], nextDueAt });
    }
    /** Records one settlement at `now`, claiming nothing. */
    async function settle(result: Result, now: number): Promise<void> {
      await pump([], now, [result]);
    }
    /** The events of `orderId` as [type, from, to, attempt, at, details]. */
    async function history(orderId: string) {
      return (await storage.orders.listOrderEvents(orderId)).map((e) => [
        e.type,
        e.fromStatus,
        e.toStatus,
        e.attempt,
        e.at,
        e.details,
      ]);
    }
    /** The order, which must exist. */
    async function find(orderId: string): Promise<Order> {
      const order = await storage.orders.findOrder(orderId);
      if (!order) throw new Error(`order ${orderId} not found`);
      return order;
    }
    /** Every order matching `filter`, page by page (each page strictly after the last). */
    async function listAll(filter: { status?: OrderStatus; userId?: string } = {}): Promise<Order[]> {
      const all: Order[] = [];
      for (;;) {
        const afterSeq = all.at(-1)?.seq ?? 0;
        const page = await storage.orders.listOrders({ ...filter, afterSeq, limit: 3 });
        if (page.length === 0) return all;
        expect(page.every((order) => order.seq > afterSeq)).toBe(true);
        all.push(...page);
      }
    }

    describe("create", () => {
      test("a new order is stored pending, with no attempts", async () => {
        expect(await createOrder(newOrder("a"))).toEqual({ created: true });
        expect(await storage.orders.findOrder("a")).toEqual({
          seq: expect.any(Number),
          orderId: "a",
          userId: "user_1",
          itemIds: ["item_1", "item_2"],
          currency: "USD",
          totalMinor: 15_099,
          cart: null,
          status: "pending",
          createdAt: T0,
          startedAt: null,
          completedAt: null,
          attempts: 0,
          lastError: null,
          steps: [],
          cancelRequestedAt: null,
          traceParent: null,
        });
      });

      test("an order keeps the traceparent it was created with", async () => {
        const traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        expect(await createOrder(newOrder("traced", { traceParent }))).toEqual({ created: true });
        expect((await storage.orders.findOrder("traced"))?.traceParent).toBe(traceParent);
        const [claimed] = await claim("w1", 1, T0 + 1);
        expect(claimed).toMatchObject({ orderId: "traced", traceParent });
      });

      test("the same order_id again is not created and returns the stored order", async () => {
        await create(newOrder("a"));
        const stored = await find("a");
        expect(await createOrder(newOrder("a"))).toEqual({ created: false, existing: stored });
        expect(await listAll()).toHaveLength(1);
      });

      test("a different payload under an existing order_id still returns the stored order", async () => {
        await create(newOrder("a"));
        const stored = await find("a");
        const other = newOrder("a", {
          userId: "user_2",
          itemIds: ["x"],
          currency: "USD",
          totalMinor: 1,
          cart: null,
          createdAt: T0 + 5,
        });
        expect(await createOrder(other)).toEqual({ created: false, existing: stored });
        expect(await find("a")).toEqual(stored);
      });

      test("of 50 concurrent creates of one order_id exactly one is created", async () => {
        const outcomes = await Promise.all(
          Array.from({ length: 50 }, (_, i) => createOrder(newOrder("a", { userId: `user_${i}` }))),
        );
        expect(outcomes.filter((outcome) => outcome.created)).toHaveLength(1);
        const stored = await find("a");
        const existing = outcomes.filter((o): o is Extract<CreateOutcome, { created: false }> => !o.created);
        expect(existing).toHaveLength(49);
        for (const outcome of existing) expect(outcome.existing).toEqual(stored);
        expect(await listAll()).toEqual([stored]);
      });
    });

    describe("reads", () => {
      test("an unknown order is undefined to findOrder and findOrderStatus", async () => {
        await create(newOrder("a"));
        expect(await storage.orders.findOrder("b")).toBeUndefined();
        expect(await storage.orders.findOrderStatus("b")).toBeUndefined();
      });

      test("findOrderStatus returns just the id and the current status", async () => {
        await create(newOrder("a"));
        expect(await storage.orders.findOrderStatus("a")).toEqual({ orderId: "a", status: "pending" });
        await cancel("a", T0);
        expect(await storage.orders.findOrderStatus("a")).toEqual({ orderId: "a", status: "cancelled" });
      });

      test("listOrders pages in seq order (not createdAt) by afterSeq and limit", async () => {
        // Created in this order, with createdAt going backwards: the listing follows creation.
        await create(...["a", "b", "c", "d", "e"].map((id, i) => newOrder(id, { createdAt: T0 - i })));
        const first = await storage.orders.listOrders({ afterSeq: 0, limit: 2 });
        expect(idsOf(first)).toEqual(["a", "b"]);
        expect(first[0]?.seq).toBeLessThan(first[1]?.seq ?? 0);
        const second = await storage.orders.listOrders({ afterSeq: first[1]?.seq ?? 0, limit: 2 });
        expect(idsOf(second)).toEqual(["c", "d"]);
        const third = await storage.orders.listOrders({ afterSeq: second[1]?.seq ?? 0, limit: 2 });
        expect(idsOf(third)).toEqual(["e"]);
        expect(await storage.orders.listOrders({ afterSeq: third[0]?.seq ?? 0, limit: 2 })).toEqual([]);
        expect(await storage.orders.listOrders({ afterSeq: 0, limit: 10 })).toEqual(await listAll());
      });

      test("listOrders filters by status and by userId, alone or together", async () => {
        await create(
          newOrder("a1", { userId: "alice" }),
          newOrder("b1", { userId: "bob" }),
          newOrder("a2", { userId: "alice" }),
          newOrder("a3", { userId: "alice" }),
        );
        await cancel("a2", T0);
        await cancel("b1", T0);
        expect(idsOf(await listAll({ userId: "alice" }))).toEqual(["a1", "a2", "a3"]);
        expect(idsOf(await listAll({ status: "cancelled" }))).toEqual(["b1", "a2"]);
        expect(idsOf(await listAll({ status: "pending", userId: "alice" }))).toEqual(["a1", "a3"]);
        expect(await listAll({ userId: "carol" })).toEqual([]);
        const page = await storage.orders.listOrders({ userId: "alice", afterSeq: 0, limit: 1 });
        expect(idsOf(page)).toEqual(["a1"]);
      });
    });

    describe("cancel", () => {
      test("a pending order is cancelled once; cancelling again leaves it cancelled", async () => {
        await create(newOrder("a"));
        const pending = await find("a");
        expect(await cancel("a", T0)).toEqual({
          changed: true,
          order: { ...pending, status: "cancelled" },
        });
        expect(await cancel("a", T0)).toEqual({
          changed: false,
          order: { ...pending, status: "cancelled" },
        });
        expect((await find("a")).status).toBe("cancelled");
      });

      test("cancelling an unknown order finds nothing", async () => {
        expect(await cancel("nope", T0)).toEqual({ changed: false, order: undefined });
      });

      test("a claimed order is not cancelled and stays processing", async () => {
        await create(newOrder("a"));
        await claimOne("w1", T0 + 10);
        const outcome = await cancel("a", T0);
        expect(outcome.changed).toBe(false);
        expect(outcome.order?.status).toBe("processing");
        expect((await find("a")).status).toBe("processing");
        await settle({ kind: "completed", seq: (await find("a")).seq, owner: "w1" }, T0 + 20);
        expect((await find("a")).status).toBe("completed");
      });

      test("a cancelled order is never claimed", async () => {
        await create(newOrder("a"), newOrder("b"));
        await cancel("a", T0);
        expect(idsOf(await claim("w1", 5, T0 + 10))).toEqual(["b"]);
        await expectNothingDue(T0 + 1_000_000, null);
        expect((await find("a")).status).toBe("cancelled");
      });

      test("cancels racing one claim: each order is either cancelled or claimed, never both", async () => {
        const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
        await create(...ids.map((id) => newOrder(id)));
        // The claim is sent between the cancels, so either side may be first for some orders.
        const cancelNow = (id: string) => cancel(id, T0);
        const before = Promise.all(ids.slice(0, 10).map(cancelNow));
        const claiming = claim("w1", ids.length, T0 + 10);
        const after = Promise.all(ids.slice(10).map(cancelNow));
        const [cancelsBefore, claimed, cancelsAfter] = await Promise.all([before, claiming, after]);
        const cancels = [...cancelsBefore, ...cancelsAfter];
        const claimedIds = new Set(idsOf(claimed));
        for (const [i, id] of ids.entries()) {
          const cancelled = cancels[i]?.changed;
          expect(cancelled).toBe(!claimedIds.has(id));
          expect((await find(id)).status).toBe(cancelled ? "cancelled" : "processing");
        }
      });
    });

    describe("claim", () => {
      test("the oldest due orders are claimed first: by createdAt, then by seq", async () => {
        await create(
          newOrder("late", { createdAt: T0 + 30 }),
          newOrder("first", { createdAt: T0 + 10 }),
          newOrder("middle", { createdAt: T0 + 20 }),
          newOrder("tie", { createdAt: T0 + 10 }),
        );
        expect(idsOf(await claim("w1", 3, T0 + 100))).toEqual(["first", "tie", "middle"]);
        expect(idsOf(await claim("w1", 3, T0 + 100))).toEqual(["late"]);
      });

      test("a claimed order comes back processing, attempts + 1, startedAt = now", async () => {
        await create(newOrder("a"));
        const pending = await find("a");
        const claimed = await claimOne("w1", T0 + 42);
        expect(claimed).toEqual({ ...pending, status: "processing", attempts: 1, startedAt: T0 + 42 });
        expect(await find("a")).toEqual(claimed);
      });

      test("claims are answered in turn: the oldest due order to the first request, each held by its owner", async () => {
        await create(...["a", "b", "c", "d", "e"].map((id) => newOrder(id)));
        const requests = [...wants("w1", 2), ...wants("w2", 2), ...wants("w3", 2)];
        const { claimed, nextDueAt } = await pump(requests, T0 + 10);
        expect(idsOf(claimed)).toEqual(["a", "b", "c", "d", "e"]);
        expect(nextDueAt).toBeNull();
        // Each order is held by the owner of the request it answered, and its claim event says so.
        const renewed = await storage.queue.renewLeases({
          held: claimed.map((order, i) => ({ seq: order.seq, owner: requests[i]?.owner ?? "" })),
          until: T0 + 60_000,
        });
        expect(renewed.sort((x, y) => x - y)).toEqual(claimed.map((order) => order.seq));
        const claimedBy = async (id: string) => (await storage.orders.listOrderEvents(id)).at(-1)?.details;
        expect(await claimedBy("c")).toEqual({ claimed_by: "w2" });
        expect(await claimedBy("e")).toEqual({ claimed_by: "w3" });
        expect(await claim("w4", 5, T0 + 10)).toEqual([]);
      });

      test("nextDueAt: undefined when every request was filled, null when nothing is pending", async () => {
        expect(await pump(wants("w1", 1), T0)).toEqual({ claimed: [], nextDueAt: null });
        await create(newOrder("a"), newOrder("b"));
        const filled = await pump(wants("w1", 1), T0 + 10);
        expect(filled.nextDueAt).toBeUndefined();
        const exact = await pump(wants("w1", 1), T0 + 10);
        expect(idsOf(exact.claimed)).toEqual(["b"]);
        expect(exact.nextDueAt).toBeUndefined();
        expect(await pump(wants("w2", 1), T0 + 10)).toEqual({ claimed: [], nextDueAt: null });
      });

      test("an order retried for later is not claimed before its runAt; nextDueAt is the earliest", async () => {
        await create(newOrder("a"), newOrder("b"), newOrder("c"));
        const [a, b] = await claim("w1", 2, T0 + 10);
        await pump([], T0 + 20, [
          { kind: "retry", seq: a?.seq ?? 0, owner: "w1", runAt: T0 + 500, error: "e" },
          { kind: "retry", seq: b?.seq ?? 0, owner: "w1", runAt: T0 + 300, error: "e" },
        ]);
        // A request left short by future orders: the due one, and when the next becomes due.
        const short = await pump(wants("w2", 5), T0 + 30);
        expect(idsOf(short.claimed)).toEqual(["c"]);
        expect(short.nextDueAt).toBe(T0 + 300);
        await expectNothingDue(T0 + 299, T0 + 300);
        expect(idsOf(await claim("w2", 5, T0 + 300))).toEqual(["b"]);
        await expectNothingDue(T0 + 499, T0 + 500);
        expect(idsOf(await claim("w2", 5, T0 + 500))).toEqual(["a"]);
      });
    });

    describe("settle", () => {
      test("a completion by the owner completes the order at now", async () => {
        await create(newOrder("a"));
        const claimed = await claimOne("w1", T0 + 10);
        await settle({ kind: "completed", seq: claimed.seq, owner: "w1" }, T0 + 60);
        expect(await find("a")).toEqual({ ...claimed, status: "completed", completedAt: T0 + 60 });
        await expectNothingDue(T0 + 100, null);
      });

      test("a settlement from another owner changes nothing", async () => {
        await create(newOrder("a"));
        const claimed = await claimOne("w1", T0 + 10);
        const { seq } = claimed;
        await pump([], T0 + 20, [
          { kind: "completed", seq, owner: "w2" },
          { kind: "retry", seq, owner: "w2", runAt: T0 + 30, error: "e" },
          { kind: "failed", seq, owner: "w2", error: "e" },
        ]);
        expect(await find("a")).toEqual(claimed);
        await settle({ kind: "completed", seq, owner: "w1" }, T0 + 40);
        expect((await find("a")).status).toBe("completed");
      });

      test("a retry puts the order back pending with its error, claimable again at runAt", async () => {
        await create(newOrder("a"));
        const claimed = await claimOne("w1", T0 + 10);
        await settle(
          { kind: "retry", seq: claimed.seq, owner: "w1", runAt: T0 + 1000, error: "boom" },
          T0 + 20,
        );
        expect(await find("a")).toMatchObject({
          status: "pending",
          attempts: 1,
          lastError: "boom",
          completedAt: null,
        });
        await expectNothingDue(T0 + 999, T0 + 1000);
        const again = await claimOne("w2", T0 + 1000);
        expect(again).toMatchObject({
          orderId: "a",
          status: "processing",
          attempts: 2,
          startedAt: T0 + 1000,
        });
      });

      test("settlements are recorded before the same call's claims", async () => {
        await create(newOrder("a"));
        const claimed = await claimOne("w1", T0 + 10);
        const retry: Result = {
          kind: "retry",
          seq: claimed.seq,
          owner: "w1",
          runAt: T0 + 20,
          error: "e",
        };
        const { claimed: again } = await pump(wants("w2", 1), T0 + 20, [retry]);
        expect(again).toEqual([{ ...claimed, attempts: 2, startedAt: T0 + 20, lastError: "e" }]);
      });

      test("a failure marks the order failed with its error, never claimed again", async () => {
        await create(newOrder("a"));
        const claimed = await claimOne("w1", T0 + 10);
        await settle({ kind: "failed", seq: claimed.seq, owner: "w1", error: "gave up" }, T0 + 20);
        expect(await find("a")).toEqual({ ...claimed, status: "failed", lastError: "gave up" });
        await expectNothingDue(T0 + 1_000_000, null);
      });

      test("a settlement for an order that was released changes nothing", async () => {
        await create(newOrder("a"));
        const claimed = await claimOne("w1", T0 + 10);
        const { seq } = claimed;
        await releaseOwner("w1", T0 + 20);
        await settle({ kind: "completed", seq, owner: "w1" }, T0 + 30);
        expect((await find("a")).status).toBe("pending");
        // Claimed by another slot meanwhile: the old owner's late result still changes nothing.
        const reclaimed = await claimOne("w2", T0 + 40);
        await settle({ kind: "failed", seq, owner: "w1", error: "late" }, T0 + 50);
        expect(await find("a")).toEqual(reclaimed);
      });
    });

    describe("steps", () => {
      /** A completed step as the dispatcher records it. */
      const step = (name: string, attempt: number, at: number, result: unknown = { ok: name }) => ({
        name,
        status: "completed" as const,
        attempt,
        at,
        result,
      });
      const record = (order: Order, owner: string, name: string, at: number, result?: unknown) =>
        storage.queue.recordSteps({
          records: [
            {
              seq: order.seq,
              owner,
              transition: lifecycle.stepCompleted(name),
              step: step(name, order.attempts, at, result),
            },
          ],
          now: at,
        });

      test("the holder's steps are appended in order with their events; the hold stays", async () => {
        await create(newOrder("a"));
        const claimed = await claimOne("w1", T0 + 10);
        expect(
          await record(claimed, "w1", "reserve", T0 + 20, { reservation: "r-1", lines: [1, 2] }),
        ).toEqual([claimed.seq]);
        expect(await record(claimed, "w1", "charge", T0 + 30)).toEqual([claimed.seq]);
        const steps = [
          step("reserve", 1, T0 + 20, { reservation: "r-1", lines: [1, 2] }),
          step("charge", 1, T0 + 30),
        ];
        expect(await find("a")).toEqual({ ...claimed, steps });
        // Still held by w1: its lease renews, its completion settles.
        expect(
          await storage.queue.renewLeases({ held: [{ seq: claimed.seq, owner: "w1" }], until: T0 + 90_000 }),
        ).toEqual([claimed.seq]);
        await settle({ kind: "completed", seq: claimed.seq, owner: "w1" }, T0 + 40);
        expect(await find("a")).toEqual({ ...claimed, status: "completed", completedAt: T0 + 40, steps });
        expect((await history("a")).slice(2, 4)).toEqual([
          ["step_completed", "processing", "processing", 1, T0 + 20, { step: "reserve" }],
          ["step_completed", "processing", "processing", 1, T0 + 30, { step: "charge" }],
        ]);
      });

      test("steps outlive a release and come back with the next claim", async () => {
        await create(newOrder("a"));
        const first = await claimOne("w1", T0 + 10);
        await record(first, "w1", "reserve", T0 + 20);
        await releaseOwner("w1", T0 + 30);
        const again = await claimOne("w2", T0 + 40);
        expect(again.steps).toEqual([step("reserve", 1, T0 + 20)]);
        expect(again.attempts).toBe(2);
      });

      test("a step from a slot that does not hold the order is not recorded", async () => {
        await create(newOrder("a"), newOrder("b"));
        const [a, b] = (await claim("w1", 2, T0 + 10)) as [Order, Order];
        await releaseOwner("w1", T0 + 15);
        const reclaimed = await claimOne("w2", T0 + 20);
        expect(reclaimed.orderId).toBe("a");
        // A batch of three: a by its old holder, a by someone else, b (pending, held by nobody).
        const recorded = await storage.queue.recordSteps({
          records: [
            {
              seq: a.seq,
              owner: "w1",
              transition: lifecycle.stepCompleted("x"),
              step: step("x", 1, T0 + 30),
            },
            {
              seq: a.seq,
              owner: "w9",
              transition: lifecycle.stepCompleted("y"),
              step: step("y", 1, T0 + 30),
            },
            {
              seq: b.seq,
              owner: "w1",
              transition: lifecycle.stepCompleted("z"),
              step: step("z", 1, T0 + 30),
            },
          ],
          now: T0 + 30,
        });
        expect(recorded).toEqual([]);
        expect((await find("a")).steps).toEqual([]);
        expect((await find("b")).steps).toEqual([]);
        // The holder's record in the same shape is.
        expect(await record(reclaimed, "w2", "x", T0 + 40)).toEqual([a.seq]);
      });
    });

    describe("release", () => {
      test("releaseOrders puts back only that owner's orders and returns how many", async () => {
        await create(newOrder("a"), newOrder("b"), newOrder("c"));
        await claim("w1", 2, T0 + 10);
        await claimOne("w2", T0 + 10);
        expect(await releaseOwner("w1", T0 + 20)).toBe(2);
        expect(idsOf(await listAll({ status: "pending" }))).toEqual(["a", "b"]);
        expect(idsOf(await listAll({ status: "processing" }))).toEqual(["c"]);
        expect(await releaseOwner("w1", T0 + 30)).toBe(0);
      });

      test("released orders are claimable again at the release's now, and attempts keeps counting", async () => {
        await create(newOrder("a"));
        await claimOne("w1", T0 + 10);
        await releaseOwner("w1", T0 + 20);
        const again = await claimOne("w2", T0 + 20);
        expect(again).toMatchObject({ orderId: "a", status: "processing", attempts: 2, startedAt: T0 + 20 });
      });

      test("releaseExpiredLeases puts back only orders whose lease ended, and returns how many", async () => {
        await create(newOrder("a"), newOrder("b"), newOrder("c"));
        await pump(wants("short", 1), T0 + 10, [], 1_000);
        const b = (await pump(wants("done", 1), T0 + 10, [], 1_000)).claimed[0] as Order;
        await pump(wants("long", 1), T0 + 10, [], 60_000);
        await settle({ kind: "completed", seq: b.seq, owner: "done" }, T0 + 20);
        expect(await releaseExpired(T0 + 500)).toBe(0);
        expect(await releaseExpired(T0 + 2_000)).toBe(1);
        expect(idsOf(await listAll({ status: "pending" }))).toEqual(["a"]);
        expect((await find("b")).status).toBe("completed");
        expect((await find("c")).status).toBe("processing");
        expect(await releaseExpired(T0 + 3_000)).toBe(0);
        expect(await claimOne("other", T0 + 2_000)).toMatchObject({ orderId: "a", attempts: 2 });
      });

      test("renewLeases keeps the listed orders their owner holds from being rescued, and only those", async () => {
        await create(newOrder("a"), newOrder("b"), newOrder("c"));
        const [a, b] = (await pump(wants("alive", 2), T0 + 10, [], 1_000)).claimed;
        const c = (await pump(wants("dead", 1), T0 + 10, [], 1_000)).claimed[0] as Order;
        // b is held by "alive" but not listed (a claim whose answer was lost): it must expire. c is
        // listed under an owner that does not hold it: not renewed, and the answer says so.
        const renewed = await storage.queue.renewLeases({
          held: [
            { seq: (a as Order).seq, owner: "alive" },
            { seq: c.seq, owner: "someone-else" },
          ],
          until: T0 + 10_000,
        });
        expect(renewed).toEqual([(a as Order).seq]);
        expect(await releaseExpired(T0 + 5_000)).toBe(2);
        expect((await find("a")).status).toBe("processing");
        expect((await find("b")).status).toBe("pending");
        expect((await find("c")).status).toBe("pending");
        expect((b as Order).orderId).toBe("b");
      });

      test("a late result from a holder whose lease expired changes nothing once the order is rescued", async () => {
        await create(newOrder("a"));
        const first = (await pump(wants("lost", 1), T0 + 10, [], 1_000)).claimed[0] as Order;
        await releaseExpired(T0 + 2_000);
        await claimOne("rescuer", T0 + 2_000);
        await settle({ kind: "completed", seq: first.seq, owner: "lost" }, T0 + 2_500);
        expect(await find("a")).toMatchObject({ status: "processing", attempts: 2, completedAt: null });
      });
    });

    describe("counts", () => {
      test("an empty store counts zero for every status", async () => {
        const zeros = Object.fromEntries(ORDER_STATUSES.map((status) => [status, 0])) as Record<
          OrderStatus,
          0
        >;
        expect(await storage.system.countOrders()).toEqual({ byStatus: zeros, completedProcessingMs: 0 });
      });

      test("countOrders matches the listing for every status, with the completed processing time", async () => {
        await create(...Array.from({ length: 8 }, (_, i) => newOrder(`o${i}`, { createdAt: T0 + i })));
        await cancel("o7", T0);
        const [o0, o1, o2, o3] = await claim("w1", 6, T0 + 100);
        await pump([], T0 + 150, [{ kind: "completed", seq: o0?.seq ?? 0, owner: "w1" }]);
        await pump([], T0 + 175, [
          { kind: "completed", seq: o1?.seq ?? 0, owner: "w1" },
          { kind: "retry", seq: o2?.seq ?? 0, owner: "w1", runAt: T0 + 10_000, error: "e" },
          { kind: "failed", seq: o3?.seq ?? 0, owner: "w1", error: "e" },
        ]);

        const counts = await storage.system.countOrders();
        expect(counts.byStatus).toEqual({ pending: 2, processing: 2, completed: 2, failed: 1, cancelled: 1 });
        const listed = await listAll();
        for (const status of ORDER_STATUSES) {
          expect(counts.byStatus[status]).toBe(listed.filter((order) => order.status === status).length);
        }
        const completed = listed.filter((order) => order.status === "completed");
        const processingMs = completed.reduce((sum, o) => sum + (o.completedAt ?? 0) - (o.startedAt ?? 0), 0);
        expect(counts.completedProcessingMs).toBe(processingMs);
        expect(counts.completedProcessingMs).toBe(50 + 75);
      });
    });

    describe("operator retry", () => {
      test("a failed order goes back to pending, due now, with a fresh attempt budget", async () => {
        await create(newOrder("a"));
        const claimed = await claimOne("w1", T0 + 10);
        await settle({ kind: "failed", seq: claimed.seq, owner: "w1", error: "gave up" }, T0 + 20);
        const outcome = await operatorRetry("a", T0 + 500);
        expect(outcome).toEqual({
          changed: true,
          order: { ...claimed, status: "pending", attempts: 0, lastError: "gave up" },
        });
        expect(await claimOne("w2", T0 + 500)).toMatchObject({ orderId: "a", attempts: 1 });
      });

      test("any other status is left as it is; an unknown order is undefined", async () => {
        await create(newOrder("a"), newOrder("b"));
        expect(await operatorRetry("a", T0)).toEqual({ changed: false, order: await find("a") });
        await claimOne("w1", T0 + 10);
        expect(await operatorRetry("a", T0 + 20)).toMatchObject({
          changed: false,
          order: { status: "processing" },
        });
        expect(await operatorRetry("nope", T0)).toEqual({ changed: false, order: undefined });
      });

      test("a change can keep a cancel request with the order, set once, through later claims", async () => {
        await create(newOrder("a"));
        const claimed = await claimOne("w1", T0 + 10);
        await settle(
          { kind: "retry", seq: claimed.seq, owner: "w1", runAt: T0 + 60_000, error: "e" },
          T0 + 20,
        );
        const change = {
          transition: lifecycle.cancelRequested(),
          runAt: T0 + 30,
          attempts: 5,
          ifAttempts: 1,
          cancelRequestedAt: T0 + 30,
        };
        const outcome = await storage.orders.changeOrder("a", change, T0 + 30);
        expect(outcome).toEqual({
          changed: true,
          order: expect.objectContaining({ status: "pending", attempts: 5, cancelRequestedAt: T0 + 30 }),
        });
        const again = await claimOne("w2", T0 + 40);
        expect(again).toMatchObject({ attempts: 6, cancelRequestedAt: T0 + 30 });
        expect((await history("a")).slice(-2)).toEqual([
          ["cancel_requested", "pending", "pending", 5, T0 + 30, null],
          ["claimed", "pending", "processing", 6, T0 + 40, { claimed_by: "w2" }],
        ]);
      });
    });

    describe("events", () => {
      test("every transition is recorded, in order, with its attempt, time and details", async () => {
        await create(newOrder("a"));
        let order = await claimOne("w1", T0 + 10);
        await settle(
          { kind: "retry", seq: order.seq, owner: "w1", runAt: T0 + 1_020, error: "boom" },
          T0 + 20,
        );
        order = await claimOne("w2", T0 + 1_020);
        await settle({ kind: "failed", seq: order.seq, owner: "w2", error: "gave up" }, T0 + 1_030);
        await operatorRetry("a", T0 + 2_000);
        order = await claimOne("w3", T0 + 2_000);
        await releaseOwner("w3", T0 + 2_010);
        order = await claimOne("w4", T0 + 2_020);
        await releaseExpired(T0 + 2_020 + LEASE_MS + 1);
        order = await claimOne("w5", T0 + 40_000);
        await settle({ kind: "completed", seq: order.seq, owner: "w5" }, T0 + 40_050);
        expect(await history("a")).toEqual([
          ["created", null, "pending", 0, T0, null],
          ["claimed", "pending", "processing", 1, T0 + 10, { claimed_by: "w1" }],
          ["attempt_failed", "processing", "pending", 1, T0 + 20, { error: "boom", backoff_ms: 1_000 }],
          ["claimed", "pending", "processing", 2, T0 + 1_020, { claimed_by: "w2" }],
          ["failed", "processing", "failed", 2, T0 + 1_030, { error: "gave up" }],
          ["retried", "failed", "pending", 0, T0 + 2_000, { previous_attempts: 2 }],
          ["claimed", "pending", "processing", 1, T0 + 2_000, { claimed_by: "w3" }],
          ["released", "processing", "pending", 1, T0 + 2_010, { reason: "worker_stopped" }],
          ["claimed", "pending", "processing", 2, T0 + 2_020, { claimed_by: "w4" }],
          ["released", "processing", "pending", 2, T0 + 2_020 + LEASE_MS + 1, { reason: "lease_expired" }],
          ["claimed", "pending", "processing", 3, T0 + 40_000, { claimed_by: "w5" }],
          ["completed", "processing", "completed", 3, T0 + 40_050, null],
        ]);
        const events = await storage.orders.listOrderEvents("a");
        expect(events.every((e) => e.orderId === "a" && e.userId === "user_1")).toBe(true);
        expect(events.map((e) => e.seq)).toEqual(events.map((e) => e.seq).sort((x, y) => x - y));
      });

      test("a cancel is recorded; what changes nothing records nothing", async () => {
        await create(newOrder("a"), newOrder("b"));
        await cancel("a", T0 + 5);
        await cancel("a", T0 + 6);
        await operatorRetry("a", T0 + 7);
        expect(await createOrder(newOrder("a"))).toMatchObject({ created: false });
        const b = await claimOne("w1", T0 + 10);
        await settle({ kind: "completed", seq: b.seq, owner: "someone-else" }, T0 + 20);
        expect(await history("a")).toEqual([
          ["created", null, "pending", 0, T0, null],
          ["cancelled", "pending", "cancelled", 0, T0 + 5, null],
        ]);
        expect((await history("b")).map(([type]) => type)).toEqual(["created", "claimed"]);
        expect(await storage.orders.listOrderEvents("nope")).toEqual([]);
      });

      test("readEvents pages through every event after a position, filtered, and up to a bound", async () => {
        await create(newOrder("a"), newOrder("b", { userId: "user_2" }), newOrder("c"));
        await claim("w1", 3, T0 + 10);
        const all = await storage.events.readEvents({ after: 0, limit: 100 });
        expect(all.map((e) => [e.orderId, e.type])).toEqual([
          ["a", "created"],
          ["b", "created"],
          ["c", "created"],
          ["a", "claimed"],
          ["b", "claimed"],
          ["c", "claimed"],
        ]);
        expect(await storage.events.latestEventSeq()).toBe(all.at(-1)?.seq ?? -1);
        const seqs = all.map((e) => e.seq);
        const [first, second, third] = seqs as [number, number, number];
        expect(await storage.events.readEvents({ after: 0, limit: 2 })).toEqual(all.slice(0, 2));
        expect(await storage.events.readEvents({ after: second, limit: 100 })).toEqual(all.slice(2));
        expect(await storage.events.readEvents({ after: first, upTo: third, limit: 100 })).toEqual(
          all.slice(1, 3),
        );
        expect(
          (await storage.events.readEvents({ after: 0, limit: 100, orderId: "b" })).map((e) => e.type),
        ).toEqual(["created", "claimed"]);
        expect(
          (await storage.events.readEvents({ after: 0, limit: 100, userId: "user_2" })).map((e) => e.orderId),
        ).toEqual(["b", "b"]);
        expect(await storage.events.readEvents({ after: all.at(-1)?.seq ?? 0, limit: 100 })).toEqual([]);
      });

      test("an empty store has no events", async () => {
        expect(await storage.events.latestEventSeq()).toBe(0);
        expect(await storage.events.readEvents({ after: 0, limit: 10 })).toEqual([]);
      });

      test("subscribers hear of this process's writes", async () => {
        let heard = 0;
        const unsubscribe = storage.events.subscribe(() => heard++);
        await create(newOrder("a"));
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(heard).toBeGreaterThan(0);
        unsubscribe();
      });
    });

    describe("webhooks", () => {
      const hook = (id: string, eventTypes: Webhook["eventTypes"] = null): Webhook => ({
        id,
        url: `https://example.com/${id}`,
        secret: `whsec_${id}`,
        eventTypes,
        createdAt: T0,
      });

      test("subscriptions are created, listed, found and deleted", async () => {
        await storage.webhooks.createWebhook(hook("w1"), 100);
        await storage.webhooks.createWebhook(hook("w2", ["completed", "failed"]), 100);
        expect(await storage.webhooks.listWebhooks({ limit: 10 })).toEqual([
          hook("w1"),
          hook("w2", ["completed", "failed"]),
        ]);
        expect(await storage.webhooks.findWebhook("w2")).toEqual(hook("w2", ["completed", "failed"]));
        expect(await storage.webhooks.deleteWebhook("w1")).toBe(true);
        expect(await storage.webhooks.deleteWebhook("w1")).toBe(false);
        expect(await storage.webhooks.findWebhook("w1")).toBeUndefined();
        expect((await storage.webhooks.listWebhooks({ limit: 10 })).map((w) => w.id)).toEqual(["w2"]);
      });

      test("subscriptions are listed a page at a time, by created_at then id", async () => {
        for (const [id, at] of [
          ["c", T0],
          ["a", T0 + 1],
          ["b", T0],
          ["d", T0 + 1],
        ] as const)
          await storage.webhooks.createWebhook({ ...hook(id), createdAt: at }, 100);
        const first = await storage.webhooks.listWebhooks({ limit: 3 });
        expect(first.map((w) => w.id)).toEqual(["b", "c", "a"]);
        const last = first.at(-1) as Webhook;
        const rest = await storage.webhooks.listWebhooks({ after: last, limit: 3 });
        expect(rest.map((w) => w.id)).toEqual(["d"]);
        const afterB = await storage.webhooks.listWebhooks({ after: { createdAt: T0, id: "b" }, limit: 10 });
        expect(afterB.map((w) => w.id)).toEqual(["c", "a", "d"]);
      });

      test("createWebhook refuses past max, counting every subscription, even when called at once", async () => {
        const created = await Promise.all(
          Array.from({ length: 8 }, (_, i) => storage.webhooks.createWebhook(hook(`w${i}`), 5)),
        );
        expect(created.filter(Boolean).length).toBe(5);
        expect(await storage.webhooks.listWebhooks({ limit: 100 })).toHaveLength(5);
        expect(await storage.webhooks.deleteWebhook("w0")).toBe(created[0] === true);
        expect(await storage.webhooks.createWebhook(hook("again"), 5)).toBe(created[0] === true);
      });

      test("each event gets a pending delivery per matching subscription, in its transaction", async () => {
        await create(newOrder("before"));
        await storage.webhooks.createWebhook(hook("all"), 100);
        await storage.webhooks.createWebhook(hook("done", ["completed"]), 100);
        await cancel("before", T0 + 5);
        await create(newOrder("a"));
        const a = await claimOne("w1", T0 + 10);
        await settle({ kind: "completed", seq: a.seq, owner: "w1" }, T0 + 20);
        const events = await storage.orders.listOrderEvents("a");
        const all = await storage.webhooks.listDeliveries({ webhookId: "all", afterSeq: 0, limit: 100 });
        const [created, cancelled] = await storage.orders.listOrderEvents("before");
        // Only events recorded after the subscription: not the creation of "before".
        expect(all.map((d) => d.eventSeq)).toEqual([cancelled?.seq ?? -1, ...events.map((e) => e.seq)]);
        expect(all.some((d) => d.eventSeq === created?.seq)).toBe(false);
        expect(all.every((d) => d.status === "pending" && d.attempts === 0)).toBe(true);
        const done = await storage.webhooks.listDeliveries({ webhookId: "done", afterSeq: 0, limit: 100 });
        expect(done.map((d) => d.eventSeq)).toEqual([events.at(-1)?.seq ?? -1]);
        expect(done[0]).toMatchObject({ nextAttemptAt: T0 + 20, createdAt: T0 + 20, lastError: null });
      });

      test("claims take due deliveries once, with the url, secret and event; outcomes are fenced", async () => {
        await storage.webhooks.createWebhook(hook("all"), 100);
        await create(newOrder("a"), newOrder("b"));
        const now = T0 + 100;
        const first = await storage.webhooks.claimDeliveries({
          owner: "s1",
          limit: 1,
          now,
          leaseUntil: now + 1000,
        });
        expect(first).toHaveLength(1);
        expect(first[0]).toMatchObject({ url: "https://example.com/all", secret: "whsec_all" });
        expect(first[0]?.event).toMatchObject({ orderId: "a", type: "created", toStatus: "pending" });
        const second = await storage.webhooks.claimDeliveries({
          owner: "s2",
          limit: 10,
          now,
          leaseUntil: now + 1000,
        });
        expect(second.map((d) => d.event.orderId)).toEqual(["b"]);
        expect(
          await storage.webhooks.claimDeliveries({ owner: "s3", limit: 10, now, leaseUntil: now + 1000 }),
        ).toEqual([]);
        const [d1, d2] = [first[0] as DueDelivery, second[0] as DueDelivery];
        await storage.webhooks.settleDeliveries([
          { kind: "delivered", seq: d1.seq, owner: "someone-else", at: now + 5, status: 200 },
          { kind: "delivered", seq: d1.seq, owner: "s1", at: now + 5, status: 204 },
          {
            kind: "retry",
            seq: d2.seq,
            owner: "s2",
            at: now + 5,
            nextAttemptAt: now + 500,
            error: "HTTP 500",
            status: 500,
          },
        ]);
        const listed = await storage.webhooks.listDeliveries({ webhookId: "all", afterSeq: 0, limit: 10 });
        expect(listed[0]).toMatchObject({
          status: "delivered",
          attempts: 1,
          deliveredAt: now + 5,
          lastStatus: 204,
        });
        expect(listed[1]).toMatchObject({
          status: "pending",
          attempts: 1,
          nextAttemptAt: now + 500,
          lastError: "HTTP 500",
          lastStatus: 500,
        });
        expect(await storage.webhooks.nextDeliveryAt()).toBe(now + 500);
        expect(
          await storage.webhooks.claimDeliveries({
            owner: "s3",
            limit: 10,
            now: now + 499,
            leaseUntil: now + 2000,
          }),
        ).toEqual([]);
        const again = await storage.webhooks.claimDeliveries({
          owner: "s3",
          limit: 10,
          now: now + 500,
          leaseUntil: now + 2000,
        });
        expect(again.map((d) => d.seq)).toEqual([d2.seq]);
        await storage.webhooks.settleDeliveries([
          { kind: "dead", seq: d2.seq, owner: "s3", at: now + 600, error: "timed out", status: null },
        ]);
        expect(
          await storage.webhooks.listDeliveries({ webhookId: "all", afterSeq: 0, limit: 10, status: "dead" }),
        ).toEqual([
          expect.objectContaining({ seq: d2.seq, attempts: 2, lastError: "timed out", lastStatus: null }),
        ]);
        expect(await storage.webhooks.nextDeliveryAt()).toBeNull();
      });

      test("a claim whose lease ran out is claimed again; the old holder's outcome changes nothing", async () => {
        await storage.webhooks.createWebhook(hook("all"), 100);
        await create(newOrder("a"));
        const [lost] = await storage.webhooks.claimDeliveries({
          owner: "lost",
          limit: 5,
          now: T0,
          leaseUntil: T0 + 100,
        });
        expect(
          await storage.webhooks.claimDeliveries({
            owner: "x",
            limit: 5,
            now: T0 + 50,
            leaseUntil: T0 + 200,
          }),
        ).toEqual([]);
        const [rescued] = await storage.webhooks.claimDeliveries({
          owner: "new",
          limit: 5,
          now: T0 + 101,
          leaseUntil: T0 + 300,
        });
        expect(rescued?.seq).toBe(lost?.seq);
        await storage.webhooks.settleDeliveries([
          { kind: "dead", seq: lost?.seq ?? 0, owner: "lost", at: T0 + 150, error: "late", status: null },
        ]);
        expect(
          (await storage.webhooks.listDeliveries({ webhookId: "all", afterSeq: 0, limit: 5 }))[0]?.status,
        ).toBe("pending");
      });

      describe("claims bounded per subscription", () => {
        /**
         * "slow" gets the creations, "fast" the cancels, due in this order: slow:o1 (T0), fast:o1 (+5),
         * slow:o2 (+10), fast:o2 (+15), slow:o3 (+20), fast:o3 (+25), slow:o4 (+30).
         */
        beforeEach(async () => {
          await storage.webhooks.createWebhook(hook("slow", ["created"]), 100);
          await storage.webhooks.createWebhook(hook("fast", ["cancelled"]), 100);
          for (const i of [1, 2, 3, 4]) await create(newOrder(`o${i}`, { createdAt: T0 + (i - 1) * 10 }));
          for (const i of [1, 2, 3]) await cancel(`o${i}`, T0 + (i - 1) * 10 + 5);
        });
        /** What `owner` claims at T0 + 100, as subscription:order. */
        const claim = async (owner: string, limit: number, perSubscription?: PerSubscription) =>
          (
            await storage.webhooks.claimDeliveries({
              owner,
              limit,
              now: T0 + 100,
              leaseUntil: T0 + 1_000,
              ...(perSubscription && { perSubscription }),
            })
          ).map((d) => `${d.webhookId}:${d.event.orderId}`);

        test("each subscription gives at most the bound less what the owner holds, oldest first across them", async () => {
          expect(await claim("s1", 10, { limit: 2, held: { slow: 1, gone: 5 } })).toEqual([
            "slow:o1",
            "fast:o1",
            "fast:o2",
          ]);
          // At most `limit` in all, the oldest of what each subscription may give.
          expect(await claim("s2", 2, { limit: 2, held: {} })).toEqual(["slow:o2", "slow:o3"]);
          // Without a bound per subscription, the rest, oldest first.
          expect(await claim("s3", 10)).toEqual(["fast:o3", "slow:o4"]);
        });

        test("a full subscription's deliveries are left for later while another's are claimed", async () => {
          expect(await claim("s1", 10, { limit: 2, held: { slow: 3 } })).toEqual(["fast:o1", "fast:o2"]);
          expect(await claim("s1", 10, { limit: 2, held: { slow: 1, fast: 2 } })).toEqual(["slow:o1"]);
          // What was left is due to any claim with room, oldest first.
          expect(await claim("s2", 10, { limit: 10, held: {} })).toEqual([
            "slow:o2",
            "slow:o3",
            "fast:o3",
            "slow:o4",
          ]);
        });
      });

      test("renewDeliveryLeases extends only the claims their owner still holds; a renewed one is not taken", async () => {
        await storage.webhooks.createWebhook(hook("all"), 100);
        await create(newOrder("a"), newOrder("b"));
        const claim = (owner: string, now: number, leaseUntil: number) =>
          storage.webhooks.claimDeliveries({ owner, limit: 5, now, leaseUntil });
        const [a, b] = await claim("s1", T0, T0 + 100);
        const renewed = await storage.webhooks.renewDeliveryLeases({
          held: [
            { seq: a?.seq ?? 0, owner: "s1" },
            { seq: b?.seq ?? 0, owner: "someone-else" },
          ],
          until: T0 + 1_000,
        });
        expect(renewed).toEqual([a?.seq ?? 0]);
        // Past the first lease: b is due again to another sender's claim, a is still held.
        expect((await claim("s2", T0 + 101, T0 + 2_000)).map((d) => d.seq)).toEqual([b?.seq ?? 0]);
        // b is s2's now: s1 can no longer renew it, and a settled delivery has no lease to renew.
        await storage.webhooks.settleDeliveries([
          { kind: "delivered", seq: a?.seq ?? 0, owner: "s1", at: T0 + 150, status: 200 },
        ]);
        const late = await storage.webhooks.renewDeliveryLeases({
          held: [
            { seq: a?.seq ?? 0, owner: "s1" },
            { seq: b?.seq ?? 0, owner: "s1" },
          ],
          until: T0 + 5_000,
        });
        expect(late).toEqual([]);
      });

      test("backlogs: each subscription's pending deliveries and when the oldest one's event was committed", async () => {
        await storage.webhooks.createWebhook(hook("all"), 100);
        await storage.webhooks.createWebhook(hook("created", ["created"]), 100);
        expect(await storage.webhooks.backlogs()).toEqual([]);
        await create(newOrder("a", { createdAt: T0 }), newOrder("b", { createdAt: T0 + 50 }));
        const byId = async () =>
          Object.fromEntries((await storage.webhooks.backlogs()).map((b) => [b.webhookId, b]));
        expect(await byId()).toEqual({
          all: { webhookId: "all", pending: 2, oldestAt: T0 },
          created: { webhookId: "created", pending: 2, oldestAt: T0 },
        });
        // Delivered ones leave the backlog; one sent again later keeps its new due time.
        const [first, second] = await storage.webhooks.claimDeliveries({
          owner: "s",
          limit: 2,
          now: T0 + 100,
          leaseUntil: T0 + 1_000,
        });
        await storage.webhooks.settleDeliveries([
          { kind: "delivered", seq: first?.seq ?? 0, owner: "s", at: T0 + 110, status: 200 },
          {
            kind: "retry",
            seq: second?.seq ?? 0,
            owner: "s",
            at: T0 + 110,
            nextAttemptAt: T0 + 5_000,
            error: "HTTP 503",
            status: 503,
          },
        ]);
        // Four were pending: one delivered, one waiting for its retry.
        const after = await byId();
        expect(Object.values(after).reduce((sum, b) => sum + b.pending, 0)).toBe(3);
      });

      test("a delivery's seq is never used again, even after its subscription is deleted", async () => {
        await storage.webhooks.createWebhook(hook("a"), 100);
        await create(newOrder("o1"));
        const [first] = await storage.webhooks.listDeliveries({ webhookId: "a", afterSeq: 0, limit: 5 });
        expect(await storage.webhooks.deleteWebhook("a")).toBe(true);
        await storage.webhooks.createWebhook(hook("b"), 100);
        await create(newOrder("o2"));
        const [next] = await storage.webhooks.listDeliveries({ webhookId: "b", afterSeq: 0, limit: 5 });
        expect(next?.seq ?? 0).toBeGreaterThan(first?.seq ?? Number.MAX_SAFE_INTEGER);
      });

      test("redeliver puts a dead delivery back to pending, due now; deleting a subscription drops its deliveries", async () => {
        await storage.webhooks.createWebhook(hook("all"), 100);
        await create(newOrder("a"));
        const [d] = await storage.webhooks.claimDeliveries({
          owner: "s",
          limit: 1,
          now: T0,
          leaseUntil: T0 + 100,
        });
        const seq = d?.seq ?? 0;
        await storage.webhooks.settleDeliveries([
          { kind: "dead", seq, owner: "s", at: T0 + 1, error: "e", status: 500 },
        ]);
        expect(await storage.webhooks.redeliver({ webhookId: "all", seq, now: T0 + 50 })).toMatchObject({
          seq,
          status: "pending",
          attempts: 0,
          nextAttemptAt: T0 + 50,
        });
        expect(await storage.webhooks.redeliver({ webhookId: "other", seq, now: T0 })).toBeUndefined();
        const [again] = await storage.webhooks.claimDeliveries({
          owner: "s",
          limit: 1,
          now: T0 + 50,
          leaseUntil: T0 + 100,
        });
        expect(again?.seq).toBe(seq);
        expect(await storage.webhooks.deleteWebhook("all")).toBe(true);
        expect(await storage.webhooks.listDeliveries({ webhookId: "all", afterSeq: 0, limit: 5 })).toEqual(
          [],
        );
        await create(newOrder("b"));
        expect(await storage.webhooks.nextDeliveryAt()).toBeNull();
      });
    });

    describe("dashboard", () => {
      const report = (replica: string, at: number, retriesTotal = 0): ActivityReport => ({
        replica,
        at,
        waitBuckets: [1, 2, 3],
        processingBuckets: [4, 5, 6],
        retriesTotal,
        failuresTotal: 1,
        slotsBusy: 2,
        slotsCapacity: 128,
        valueByCurrency: { EUR: 5388, JPY: 1500 },
      });

      test("each replica's latest report is read back; stale ones are left out", async () => {
        await storage.dashboard.publishActivity(report("r1", T0, 1));
        await storage.dashboard.publishActivity(report("r2", T0 + 500));
        await storage.dashboard.publishActivity(report("r1", T0 + 1000, 7));
        const byReplica = (reports: ActivityReport[]) =>
          [...reports].sort((a, b) => a.replica.localeCompare(b.replica));
        expect(byReplica(await storage.dashboard.readActivity(T0))).toEqual([
          report("r1", T0 + 1000, 7),
          report("r2", T0 + 500),
        ]);
        expect(await storage.dashboard.readActivity(T0 + 600)).toEqual([report("r1", T0 + 1000, 7)]);
      });

      test("recent failures: failed orders only, newest first, at most limit", async () => {
        await create(newOrder("a"), newOrder("b"), newOrder("c"), newOrder("d"));
        const [a, b, , d] = await claim("w1", 4, T0 + 10);
        await pump([], T0 + 20, [
          { kind: "failed", seq: a?.seq ?? 0, owner: "w1", error: "e-a" },
          { kind: "failed", seq: b?.seq ?? 0, owner: "w1", error: "e-b" },
          { kind: "completed", seq: d?.seq ?? 0, owner: "w1" },
        ]);
        expect(idsOf(await storage.dashboard.listRecentFailures(10))).toEqual(["b", "a"]);
        expect(await storage.dashboard.listRecentFailures(1)).toEqual([await find("b")]);
      });
    });

    describe("system", () => {
      test("probeWrite resolves and leaves the orders as they were", async () => {
        await create(newOrder("a"));
        const before = await listAll();
        await storage.system.probeWrite();
        expect(await listAll()).toEqual(before);
      });

      test("close can be called twice", async () => {
        await create(newOrder("a"));
        await storage.close();
        await expect(storage.close()).resolves.toBeUndefined();
      });
    });
  });
}
