/**
 * `GET /events` (Server-Sent Events) through real HTTP: live events of the orders a client posts, in
 * seq order; a reconnect with Last-Event-ID gets exactly what it missed; heartbeats; a client that
 * stops reading is cut off while the service goes on. Real SQLite files (or PostgreSQL with
 * TEST_STORAGE=postgres) and real worker threads.
 */
import { afterEach, expect, test } from "bun:test";
import { call, cleanup, ON_POSTGRES, order, startService, waitFor } from "./helpers.ts";

const ascending = (values: number[]) => [...values].sort((a, b) => a - b);

/**
 * The stream's order: `seq` order on SQLite (one writer commits in it); on PostgreSQL commit order
 * (docs/EVENTS.md), which is `seq` order within each order but not across orders.
 */
function expectStreamOrder(events: { seq: number; order_id: string }[]): void {
  const seqs = events.map((e) => e.seq);
  if (!ON_POSTGRES) expect(seqs).toEqual(ascending(seqs));
  for (const id of new Set(events.map((e) => e.order_id))) {
    const ofOrder = events.filter((e) => e.order_id === id).map((e) => e.seq);
    expect(ofOrder).toEqual(ascending(ofOrder));
  }
}

afterEach(cleanup);

type Message = { id: string | undefined; data: any; comment: string | undefined };

/** An open SSE stream: messages as they arrive, and close(). */
async function openStream(url: URL, path: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(new URL(path, url), { headers, signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const messages: Message[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>)
    .pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>)
    .getReader();
  let buffer = "";
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += value;
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message: Message = { id: undefined, data: undefined, comment: undefined };
        for (const line of block.split("\n")) {
          if (line.startsWith("id: ")) message.id = line.slice(4);
          else if (line.startsWith("data: ")) message.data = JSON.parse(line.slice(6));
          else if (line.startsWith(": ")) message.comment = line.slice(2);
        }
        messages.push(message);
        end = buffer.indexOf("\n\n");
      }
    }
  })();
  const events = () => messages.filter((m) => m.data !== undefined).map((m) => m.data);
  return {
    messages,
    events,
    /** Waits until `n` events arrived. */
    until: (n: number) => waitFor(() => events().length >= n, { what: `${n} events` }),
    close: async () => {
      controller.abort();
      await pump;
    },
  };
}

/** Posts the orders and waits until all are completed. */
async function postAndComplete(url: URL, ids: string[], user = "sse-user"): Promise<void> {
  for (const id of ids)
    expect((await call(url, "POST", "/orders", order(id, { user_id: user }))).status).toBe(201);
  for (const id of ids) {
    await waitFor(async () => (await call(url, "GET", `/orders/${id}/status`)).body.status === "completed");
  }
}

test("a client sees the events of the orders it posts, live and in stream order", async () => {
  const { url } = await startService();
  const stream = await openStream(url, "/events?user_id=sse-user");
  await postAndComplete(url, ["s1", "s2", "s3"]);
  await call(url, "POST", "/orders", order("other-user", { user_id: "someone-else" }));
  await stream.until(9);
  await Bun.sleep(100);
  const events = stream.events();
  expect(events).toHaveLength(9);
  const seqs = events.map((e) => e.seq);
  expectStreamOrder(events);
  expect(stream.messages.filter((m) => m.id !== undefined).map((m) => Number(m.id))).toEqual(seqs);
  for (const id of ["s1", "s2", "s3"]) {
    expect(events.filter((e) => e.order_id === id).map((e) => e.type)).toEqual([
      "created",
      "claimed",
      "completed",
    ]);
  }
  // The same events, the same shape, as the order's own history.
  const history = (await call(url, "GET", "/orders/s2/events")).body.events;
  expect(events.filter((e) => e.order_id === "s2")).toEqual(history);
  await stream.close();
});

test("reconnecting with Last-Event-ID gets exactly the events missed, then live ones", async () => {
  const { url } = await startService();
  const first = await openStream(url, "/events");
  await postAndComplete(url, ["r1", "r2"]);
  await first.until(6);
  const lastSeen = first.events().at(-1).seq;
  await first.close();

  // Missed while disconnected.
  await postAndComplete(url, ["r3", "r4"]);
  const second = await openStream(url, "/events", { "last-event-id": String(lastSeen) });
  await second.until(6);
  await postAndComplete(url, ["r5"]);
  await second.until(9);
  await Bun.sleep(100);
  const got = second.events();
  for (const id of ["r3", "r4", "r5"]) {
    expect(got.filter((e) => e.order_id === id).map((e) => e.type)).toEqual([
      "created",
      "claimed",
      "completed",
    ]);
  }
  expect(Math.min(...got.map((e) => e.seq))).toBeGreaterThan(lastSeen);
  // Nothing twice, nothing skipped: the seqs are exactly those after lastSeen.
  const all = [];
  for (const id of ["r3", "r4", "r5"])
    all.push(...(await call(url, "GET", `/orders/${id}/events`)).body.events);
  expect(ascending(got.map((e) => e.seq))).toEqual(ascending(all.map((e) => e.seq)));
  expectStreamOrder(got);

  // The query parameter does the same for clients that cannot set the header.
  const third = await openStream(url, `/events?last_event_id=${lastSeen}&order_id=r4`);
  await third.until(3);
  expect(third.events().map((e) => e.type)).toEqual(["created", "claimed", "completed"]);
  await second.close();
  await third.close();
});

test("a quiet stream gets heartbeat comments", async () => {
  const { url } = await startService({ SSE_HEARTBEAT_MS: "200" });
  const stream = await openStream(url, "/events");
  await waitFor(() => stream.messages.some((m) => m.comment === "heartbeat"), { what: "a heartbeat" });
  await stream.close();
});

test("bad parameters are refused with the envelope", async () => {
  const { url } = await startService();
  for (const path of ["/events?last_event_id=abc", "/events?bogus=1"]) {
    const res = await call(url, "GET", path);
    expect({ path, status: res.status }).toEqual({ path, status: 422 });
    expect(res.body.error.code).toBe("VALIDATION_FAILED");
  }
  const header = await fetch(new URL("/events", url), { headers: { "last-event-id": "-1" } });
  expect(header.status).toBe(422);
});

test("a client that stops reading is cut off; the service and other clients go on", async () => {
  const { url } = await startService({ SSE_MAX_QUEUED_EVENTS: "1000", PROCESSING_TIME_MS: "0" });
  // A raw connection that asks for the stream and never reads what comes back.
  let received = 0;
  let closed = false;
  const socket = await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port),
    socket: {
      data: (_s, chunk) => {
        received += chunk.length;
      },
      close: () => {
        closed = true;
      },
    },
  });
  socket.write(`GET /events HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  socket.pause();
  const reader = await openStream(url, "/events?user_id=watched");
  await Bun.sleep(100);

  // ~24,000 events: far more than the kernel's socket buffers and the 1,000 allowed to queue.
  const ids = Array.from({ length: 8_000 }, (_, i) => `flood-${i}`);
  for (let i = 0; i < ids.length; i += 200) {
    await Promise.all(ids.slice(i, i + 200).map((id) => call(url, "POST", "/orders", order(id))));
  }
  await call(url, "POST", "/orders", order("watched-1", { user_id: "watched" }));
  await reader.until(3);

  // Reading now, the slow client gets what was in flight and then the end of the stream.
  socket.resume();
  await waitFor(() => closed, { what: "the slow client to be cut off", timeoutMs: 20_000 });
  expect(received).toBeLessThan(24_000 * 250);
  expect((await call(url, "GET", "/health")).status).toBe(200);
  await reader.close();
}, 60_000);

test("past MAX_WATCHERS, streams and long-polls get 503 OVERLOADED with Retry-After; room comes back", async () => {
  const { url } = await startService({
    MAX_WATCHERS: "2",
    PROCESSING_TIME_MS: "60000",
    SHUTDOWN_TIMEOUT_MS: "0",
  });
  await call(url, "POST", "/orders", order("w1"));
  const first = await openStream(url, "/events");
  const second = await openStream(url, "/events?order_id=w1");
  const refused = await fetch(new URL("/events", url));
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).not.toBeNull();
  expect(((await refused.json()) as any).error.code).toBe("OVERLOADED");
  const poll = await call(url, "GET", "/orders/w1/status?wait_for=completed&timeout_s=5");
  expect(poll.status).toBe(503);
  expect(poll.body.error.code).toBe("OVERLOADED");
  // Plain status reads never wait, so they are never refused.
  expect((await call(url, "GET", "/orders/w1/status")).status).toBe(200);

  await first.close();
  await waitFor(
    async () =>
      (await call(url, "GET", "/orders/w1/status?wait_for=pending,processing&timeout_s=0")).status === 200,
  );
  await second.close();
});

test("shutdown ends open streams and answers waiting long-polls instead of waiting for them", async () => {
  const { url, server } = await startService({ SHUTDOWN_TIMEOUT_MS: "5000" });
  await call(url, "POST", "/orders", order("s1"));
  await waitFor(async () => (await call(url, "GET", "/orders/s1/status")).body.status === "completed");
  const stream = await openStream(url, "/events");
  // Waits for a status the order will never reach.
  const poll = call(url, "GET", "/orders/s1/status?wait_for=cancelled&timeout_s=60");
  await waitFor(() => stream.messages.length > 0, { what: "the stream to open" });
  await Bun.sleep(100);
  const started = Date.now();
  await server.stop();
  expect(Date.now() - started).toBeLessThan(2_000);
  // The long-poll got the status as it was; the stream ended (the client would reconnect).
  expect((await poll).body).toEqual({ order_id: "s1", status: "completed" });
  await stream.close();
});
