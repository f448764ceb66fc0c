/**
 * The sender thread, for real: a Worker thread POSTing to a local receiver. Attempts come back
 * with their results, signed as receivers verify; a thread that dies fails what it held and is
 * replaced, and later attempts go through the new one.
 */
import { afterEach, expect, test } from "bun:test";
import { SenderThread } from "./sender.ts";
import { generateSecret, verifySignature } from "./signing.ts";
import type { DueDelivery } from "./store.ts";
import { urlPolicy } from "./url-policy.ts";

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/** A receiver that answers 200 after `delayMs`, keeping what it got. */
function receiver(delayMs = 0) {
  const got: { headers: Headers; body: string }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      got.push({ headers: request.headers, body: await request.text() });
      await Bun.sleep(delayMs);
      return new Response("ok");
    },
  });
  stops.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}/hook`, got };
}

function sender() {
  const thread = new SenderThread({ timeoutMs: 5000, policy: urlPolicy(["127.0.0.1"]) }, () => {});
  stops.push(() => thread.stop());
  return thread;
}

const delivery = (seq: number, url: string, secret: string) =>
  ({
    seq,
    webhookId: "w",
    eventSeq: seq,
    status: "pending",
    attempts: 0,
    nextAttemptAt: 0,
    lastError: null,
    lastStatus: null,
    deliveredAt: null,
    createdAt: 0,
    url,
    secret,
    event: {
      seq,
      orderId: `o${seq}`,
      userId: "u",
      type: "created",
      fromStatus: null,
      toStatus: "pending",
      attempt: 0,
      at: Date.now(),
      details: null,
    },
  }) as DueDelivery;

test("attempts made on the thread come back with their results, signed as receivers verify", async () => {
  const target = receiver();
  const secret = generateSecret();
  const thread = sender();
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => thread.send(delivery(i + 1, target.url, secret))),
  );
  expect(results.every((result) => result.ok && result.status === 200)).toBe(true);
  expect(target.got).toHaveLength(20);
  for (const { headers, body } of target.got) {
    expect(verifySignature(secret, headers, body)).toBe(true);
    expect(JSON.parse(body)).toMatchObject({ type: "order.created", data: { type: "created" } });
  }
  expect(new Set(target.got.map(({ headers }) => headers.get("webhook-id")))).toEqual(
    new Set(Array.from({ length: 20 }, (_, i) => `msg_${i + 1}`)),
  );
});

test("a thread that dies fails the attempts it held; a new thread takes the next ones", async () => {
  const slow = receiver(5000);
  const fast = receiver();
  const secret = generateSecret();
  const thread = sender();
  const held = thread.send(delivery(1, slow.url, secret));
  while (slow.got.length === 0) await Bun.sleep(10);
  thread.kill();
  expect(await held).toMatchObject({ ok: false, error: "the sender thread stopped" });
  expect(await thread.send(delivery(2, fast.url, secret))).toMatchObject({ ok: true, status: 200 });
});
