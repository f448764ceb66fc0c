/**
 * The webhook sender's policy, without a database or a network: an in-memory outbox
 * (test/fixtures/memory-outbox.ts) and a stand-in `send` whose answers the test gives. It never
 * holds more than its slots allow, never records an outcome whose claim it lost, and loses no
 * outcome when storage fails once.
 */
import { afterEach, expect, test } from "bun:test";
import { memoryOutbox } from "../../test/fixtures/memory-outbox.ts";
import { waitFor } from "../../test/helpers.ts";
import { OPEN_AFTER } from "./circuit.ts";
import { CLAIM_DEPTH, WebhookDeliverer } from "./deliverer.ts";
import type { DeliveryResult } from "./send.ts";
import type { DueDelivery } from "./store.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** Attempts that wait until the test answers them (`answer(seq, result)`, or all at once). */
function receiver() {
  const waiting = new Map<number, (result: DeliveryResult) => void>();
  const sent: number[] = [];
  const send = (delivery: DueDelivery) =>
    new Promise<DeliveryResult>((resolve) => {
      sent.push(delivery.seq);
      waiting.set(delivery.seq, resolve);
    });
  const answer = (seq: number, result: DeliveryResult = { ok: true, status: 200, durationMs: 1 }) => {
    waiting.get(seq)?.(result);
    waiting.delete(seq);
  };
  const answerAll = () => {
    for (const seq of [...waiting.keys()]) answer(seq);
  };
  return { send, sent, waiting, answer, answerAll };
}

function start(outbox: ReturnType<typeof memoryOutbox>, send: (d: DueDelivery) => Promise<DeliveryResult>) {
  const deliverer = new WebhookDeliverer({
    store: outbox.store,
    onEvents: () => () => {},
    now: Date.now,
    owner: "sender-1",
    send,
    maxAttempts: 2,
    retryBaseMs: 1,
    concurrency: 2,
    perSubscription: 2,
    leaseMs: 60_000,
    log: () => {},
  });
  deliverer.start();
  stops.push(() => deliverer.stop(0));
  return deliverer;
}

test("holds at most CLAIM_DEPTH × concurrency, sends at most concurrency at once, claims more as slots free", async () => {
  const outbox = memoryOutbox(20);
  const r = receiver();
  const deliverer = start(outbox, r.send);
  await waitFor(() => r.sent.length === 2);
  await Bun.sleep(30);
  expect(r.waiting.size).toBe(2);
  expect(deliverer.held()).toBe(CLAIM_DEPTH * 2);
  expect(outbox.calls.claimDeliveries.every(({ limit }) => limit <= CLAIM_DEPTH * 2)).toBe(true);
  while (outbox.rows.some((row) => row.status === "pending")) {
    expect(r.waiting.size).toBeLessThanOrEqual(2);
    expect(deliverer.held()).toBeLessThanOrEqual(CLAIM_DEPTH * 2);
    r.answerAll();
    await Bun.sleep(5);
  }
  expect(r.sent).toHaveLength(20);
  expect(deliverer.held()).toBe(0);
});

test("an outcome whose claim was lost is not recorded: the other sender's claim stands", async () => {
  const outbox = memoryOutbox(1);
  const r = receiver();
  const deliverer = start(outbox, r.send);
  await waitFor(() => r.sent.length === 1);
  // Its lease ran out and another replica took it up; the next renewal finds it no longer ours.
  Object.assign(outbox.row(1), { claimedBy: "sender-2" });
  await deliverer.renewLeases();
  r.answer(1);
  await Bun.sleep(20);
  expect(outbox.calls.settleDeliveries.flat()).toEqual([]);
  expect(outbox.row(1)).toMatchObject({ status: "pending", claimedBy: "sender-2", attempts: 0 });
  expect(deliverer.held()).toBe(0);
});

test("an outcome is not lost when storage fails once: the next call records it", async () => {
  const outbox = memoryOutbox(1);
  const r = receiver();
  start(outbox, r.send);
  await waitFor(() => r.sent.length === 1);
  outbox.failNext("settleDeliveries");
  r.answer(1);
  await waitFor(() => outbox.row(1).status === "delivered");
  expect(outbox.calls.settleDeliveries.map((call) => call.map((o) => [o.kind, o.seq]))).toEqual([
    [["delivered", 1]],
    [["delivered", 1]],
  ]);
  expect(r.sent).toEqual([1]); // recorded, not sent again
});

test("a failed attempt is sent again after its backoff, then dead at the last allowed attempt", async () => {
  const outbox = memoryOutbox(1);
  const r = receiver();
  start(outbox, async (delivery) => {
    r.sent.push(delivery.seq);
    return { ok: false, status: 503, durationMs: 1 };
  });
  await waitFor(() => outbox.row(1).status === "dead");
  expect(r.sent).toEqual([1, 1]);
  expect(outbox.row(1)).toMatchObject({ attempts: 2, lastError: "HTTP 503" });
});

test("recorded outcomes make room: the next claim follows them, not the next poll a second later", async () => {
  const outbox = memoryOutbox(48);
  // Records that take a while: every pump an ended attempt asks for finds the slots still held.
  const settle = outbox.store.settleDeliveries;
  outbox.store.settleDeliveries = async (outcomes) => {
    await Bun.sleep(20);
    return settle(outcomes);
  };
  const r = receiver();
  const answering = setInterval(r.answerAll, 1);
  stops.push(async () => clearInterval(answering));
  const started = Date.now();
  start(outbox, r.send);
  // Six rounds of CLAIM_DEPTH × 2 held; waiting for the one-second poll after each would take 5 s.
  await waitFor(() => outbox.rows.every((row) => row.status === "delivered"), { timeoutMs: 5000 });
  expect(Date.now() - started).toBeLessThan(1000);
});

test("a receiver that keeps failing is paused: a few attempts, then none until its pause ends; the others flow", async () => {
  const outbox = memoryOutbox(60);
  for (const row of outbox.rows) if (row.seq <= 30) row.webhookId = "dead";
  const sent: Record<string, number> = {};
  start(outbox, async (delivery) => {
    sent[delivery.webhookId] = (sent[delivery.webhookId] ?? 0) + 1;
    return delivery.webhookId === "dead"
      ? { ok: false, error: "connect ECONNREFUSED", durationMs: 0 }
      : { ok: true, status: 200, durationMs: 0 };
  });
  await waitFor(() =>
    outbox.rows.filter((row) => row.webhookId === "w").every((row) => row.status === "delivered"),
  );
  await Bun.sleep(300);
  // maxAttempts 2, retryBaseMs 1: without the breaker the 30 dead deliveries would take 60 attempts now.
  expect(sent.dead).toBeGreaterThanOrEqual(OPEN_AFTER);
  expect(sent.dead).toBeLessThan(OPEN_AFTER + 2);
  // Nothing was given up for being paused: what was not attempted is still pending.
  const dead = outbox.rows.filter((row) => row.webhookId === "dead");
  expect(dead.filter((row) => row.status === "pending").length).toBeGreaterThan(20);
});

test("while the only subscription with deliveries due is paused, the sender claims at its poll, not every few ms", async () => {
  const outbox = memoryOutbox(40);
  for (const row of outbox.rows) row.webhookId = "dead";
  let claims = 0;
  const claim = outbox.store.claimDeliveries;
  outbox.store.claimDeliveries = async (args) => {
    claims++;
    return claim(args);
  };
  let sent = 0;
  start(outbox, async () => {
    sent++;
    return { ok: false, error: "connect ECONNREFUSED", durationMs: 0 };
  });
  await waitFor(() => sent >= OPEN_AFTER);
  await Bun.sleep(100);
  const before = claims;
  await Bun.sleep(500);
  // Once a second at most (the poll); it was ~50 in 500 ms when an empty claim asked for a quick pass.
  expect(claims - before).toBeLessThanOrEqual(1);
});
