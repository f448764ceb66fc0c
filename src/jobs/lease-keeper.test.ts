/**
 * The lease keeper's policy, without a database: over the in-memory queue port
 * (test/fixtures/memory-queue.ts), orders being the jobs. Renewals from the claim on, claims lost when not renewed or
 * expired, one tick at a time, late claims confirmed before they start.
 */
import { expect, test } from "bun:test";
import { memoryQueue } from "../../test/fixtures/memory-queue.ts";
import { leaseExpired } from "../lifecycle.ts";
import { ignoreQueue } from "../queue/observer.ts";
import { claimRequests } from "../queue/policy.ts";
import type { Order } from "../records/order.ts";
import { Claims } from "./claims.ts";
import { LeaseKeeper } from "./lease-keeper.ts";

const asJobs = (orders: Order[]) => orders.map((o) => ({ key: o.orderId, seq: o.seq, attempts: o.attempts }));

/** A keeper over a queue whose orders `o0`, `o1` are claimed by `w0` until 1,000. */
async function setUp(now: { value: number }) {
  const queue = memoryQueue(["o0", "o1"]);
  const { claimed } = await queue.store.settleAndClaim({
    settlements: [],
    claims: claimRequests([{ owner: "w0", limit: 2 }]),
    now: 0,
    leaseUntil: 1000,
  });
  const claims = new Claims();
  claims.open("w0");
  claims.take("w0", asJobs(claimed), 1000, 0);
  const lost: string[] = [];
  const counted = { skipped: 0, rescued: 0 };
  const keeper = new LeaseKeeper({
    store: {
      renewLeases: (args) => queue.store.renewLeases(args),
      rescue: (at) => queue.store.releaseExpiredLeases({ now: at, released: leaseExpired() }),
    },
    jobs: "orders",
    claims,
    now: () => now.value,
    leaseMs: 1000,
    observer: { ...ignoreQueue, leaseTickSkipped: () => counted.skipped++ },
    log: () => {},
    onLost: (_owner, orderId, why) => lost.push(`${orderId}: ${why}`),
    onRescued: () => counted.rescued++,
  });
  return { queue, claims, keeper, lost, counted, claimed };
}

test("a tick renews every held claim: the lease moves on, in storage and in the claim", async () => {
  const now = { value: 500 };
  const { queue, claims, keeper, lost } = await setUp(now);
  await keeper.tick();
  expect(queue.row("o0").leaseUntil).toBe(1500);
  expect(claims.get("w0", "o1")?.leaseUntil).toBe(1500);
  expect(lost).toEqual([]);
});

test("a claim storage no longer gives to its owner is lost; one whose lease ran out too", async () => {
  const now = { value: 500 };
  const { queue, claims, keeper, lost } = await setUp(now);
  Object.assign(queue.row("o0"), { claimedBy: "other/w0" });
  await keeper.tick();
  expect(lost).toEqual(["o0: was taken up by another holder"]);
  expect(claims.get("w0", "o0")?.lost).toBe(true);
  // o1 was renewed to 1,500; with renewals failing, past that it is lost too.
  queue.failNext("renewLeases");
  now.value = 1600;
  await keeper.tick();
  expect(lost).toEqual(["o0: was taken up by another holder", "o1: ran out before it could be renewed"]);
});

test("a claim whose result is in hand is not lost when the settlement got there first", async () => {
  const now = { value: 500 };
  const { queue, claims, keeper, lost } = await setUp(now);
  (claims.get("w0", "o0") as { reported: boolean }).reported = true;
  Object.assign(queue.row("o0"), { status: "completed", claimedBy: null });
  await keeper.tick();
  expect(lost).toEqual([]);
});

test("one tick at a time: a tick that finds the last still running is skipped and counted", async () => {
  const now = { value: 500 };
  const { queue, keeper, counted } = await setUp(now);
  let release = () => {};
  const renew = queue.store.renewLeases;
  queue.store.renewLeases = (args) =>
    new Promise((resolve) => {
      release = () => resolve(renew(args));
    });
  const first = keeper.tick();
  await keeper.tick();
  await keeper.tick();
  expect(counted.skipped).toBe(2);
  queue.store.renewLeases = renew;
  release();
  await first;
  await keeper.tick();
  expect(counted.skipped).toBe(2);
});

test("rescues expired orders of dead holders and says so", async () => {
  const now = { value: 2000 };
  const { queue, keeper, counted, claims } = await setUp(now);
  claims.close("w0"); // its thread is gone: nothing renews o0 and o1
  await keeper.tick();
  expect(counted.rescued).toBe(1);
  expect(queue.rows.map((r) => r.status)).toEqual(["pending", "pending"]);
});

test("confirm: late claims still ours are renewed and kept; the others are not", async () => {
  const now = { value: 900 };
  const { queue, keeper, claimed } = await setUp(now);
  Object.assign(queue.row("o1"), { claimedBy: "other/w0" });
  expect([...(await keeper.confirm("w0", asJobs(claimed)))]).toEqual(["o0"]);
  expect(queue.row("o0").leaseUntil).toBe(1900);
});
