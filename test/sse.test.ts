/**
 * `GET /events` (Server-Sent Events) through real HTTP: live events of the orders a client posts, in
 * seq order; a reconnect with Last-Event-ID gets exactly what it missed, also far behind, at the pace
 * it reads; heartbeats; a client that stops reading is cut off after SSE_STALL_MS while the service
 * goes on. Real SQLite files (or PostgreSQL with TEST_STORAGE=postgres) and real worker threads.
 */
import { afterEach, expect, test } from "bun:test";
import type { Socket } from "bun";
import type { EventQuery } from "../src/records/order.ts";
import {
  call,
  cleanup,
  metrics,
  ON_POSTGRES,
  order,
  queryService,
  startService,
  type TestService,
  waitFor,
} from "./helpers.ts";

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

/**
 * `GET /events` on a raw TCP connection, so the service sees real backpressure: the socket reads
 * only while resumed (`read`). Parses the status line and headers, the chunked body and the events.
 */
async function openRawStream(url: URL, path: string, headers: Record<string, string> = {}) {
  let pending = Buffer.alloc(0);
  let head: string | undefined;
  let text = "";
  let budget = 0;
  let closed = false;
  const sentAt = Date.now();
  let headAt = 0;
  const events: any[] = [];
  const parse = () => {
    if (head === undefined) {
      const end = pending.indexOf("\r\n\r\n");
      if (end < 0) return;
      head = pending.subarray(0, end).toString();
      headAt = Date.now();
      pending = pending.subarray(end + 4);
    }
    for (;;) {
      const line = pending.indexOf("\r\n");
      if (line < 0) return;
      const size = Number.parseInt(pending.subarray(0, line).toString(), 16);
      if (pending.length < line + 2 + size + 2) return;
      text += pending.subarray(line + 2, line + 2 + size).toString();
      pending = pending.subarray(line + 2 + size + 2);
      let end = text.indexOf("\n\n");
      while (end >= 0) {
        const data = text
          .slice(0, end)
          .split("\n")
          .find((l) => l.startsWith("data: "));
        if (data) events.push(JSON.parse(data.slice(6)));
        text = text.slice(end + 2);
        end = text.indexOf("\n\n");
      }
    }
  };
  const socket: Socket = await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port),
    socket: {
      data: (s, chunk) => {
        pending = Buffer.concat([pending, chunk]);
        parse();
        budget -= chunk.length;
        if (budget <= 0 && head !== undefined) s.pause();
      },
      close: () => {
        closed = true;
      },
    },
  });
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\n${lines.join("")}\r\n`);
  return {
    events,
    closed: () => closed,
    /** The status line and headers, and how long after the request they came. */
    head: async () => {
      await waitFor(() => head !== undefined || closed, { what: "the status line and headers" });
      return { head: head ?? "", ms: headAt - sentAt };
    },
    sentAt,
    /** Reads until `n` events came, `bytes` at a time with a pause of `pauseMs` between (slowly). */
    read: async (n: number, bytes: number, pauseMs: number) => {
      while (events.length < n && !closed) {
        budget = bytes;
        socket.resume();
        await waitFor(() => budget <= 0 || events.length >= n || closed, { what: `${n} events` });
        socket.pause();
        await Bun.sleep(pauseMs);
      }
    },
    /** Reads everything from now on. */
    resume: () => {
      budget = Number.POSITIVE_INFINITY;
      socket.resume();
    },
    close: () => socket.end(),
  };
}

/**
 * Posts `count` orders with 128-character ids and waits until all are completed: three events each
 * (created, claimed, completed) of ~440 bytes as SSE, so 20,000 events (~9 MB) are about twice what
 * the kernel's socket buffers hold on loopback. Returns the seq of every event stored.
 */
async function storeEvents({ url, config }: TestService, prefix: string, count: number) {
  const userId = "u".repeat(128);
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`.padStart(128, "o"));
  const before = (await metrics(url)).status_counts.completed;
  for (let i = 0; i < ids.length; i += 200) {
    const batch = ids
      .slice(i, i + 200)
      .map((id) => call(url, "POST", "/orders", order(id, { user_id: userId })));
    expect((await Promise.all(batch)).every((res) => res.status === 201)).toBe(true);
  }
  await waitFor(async () => (await metrics(url)).status_counts.completed === before + count, {
    what: `${count} orders completed`,
    timeoutMs: 30_000,
  });
  const rows = await queryService<{ seq: number }>(config, {
    sqlite: "SELECT seq FROM order_events ORDER BY seq",
    postgres: "SELECT seq::float8 AS seq FROM order_events ORDER BY seq",
  });
  return rows.map((row) => row.seq);
}

/** Counts the events the SSE streams read from the table (their catch-ups pass `upTo`; the feed does not). */
function countStreamReads({ server }: TestService) {
  const store = server.storage.events;
  const readEvents = store.readEvents;
  let events = 0;
  store.readEvents = async (query: EventQuery) => {
    const page = await readEvents(query);
    if (query.upTo !== undefined) events += page.length;
    return page;
  };
  return () => events;
}

/** Waits until `value()` has not changed for `quietMs`: the point is that time passes. */
async function settled(value: () => number, quietMs = 300): Promise<number> {
  let last = value();
  let since = Date.now();
  await waitFor(() => {
    if (value() !== last) {
      last = value();
      since = Date.now();
    }
    return Date.now() - since >= quietMs;
  });
  return last;
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

test("a client 20,000 events behind gets every one, in order, at the pace it reads, then live ones", async () => {
  const service = await startService({ SSE_MAX_QUEUED_EVENTS: "100" });
  const { url } = service;
  const stored = await storeEvents(service, "behind", 6_700);
  expect(stored.length).toBeGreaterThanOrEqual(20_000);
  const streamReads = countStreamReads(service);

  const client = await openRawStream(url, "/events", { "last-event-id": "0" });
  const { head, ms } = await client.head();
  expect(head).toStartWith("HTTP/1.1 200");
  expect(head.toLowerCase()).toContain("content-type: text/event-stream");
  expect(ms).toBeLessThan(1_000);
  // Reading nothing: the service reads what the socket buffers and the queue hold, then waits.
  const readWhilePaused = await settled(streamReads);
  expect(readWhilePaused).toBeLessThan(stored.length);

  // Committed while the client is behind, then once it is live; it reads 256 KB every 20 ms.
  const withDuring = await storeEvents(service, "during", 100);
  await client.read(withDuring.length, 256 * 1024, 20);
  expect(streamReads()).toBeGreaterThan(readWhilePaused);
  const all = await storeEvents(service, "live", 10);
  await client.read(all.length, 256 * 1024, 20);
  // Nothing more comes: none twice.
  client.resume();
  await Bun.sleep(200);

  const seqs = client.events.map((e) => e.seq);
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(ascending(seqs)).toEqual(all);
  expectStreamOrder(client.events);
  expect(client.closed()).toBe(false);
  client.close();
}, 60_000);

test("a client that stops reading is cut off after SSE_STALL_MS; one that reads slowly is not", async () => {
  const service = await startService({
    SSE_MAX_QUEUED_EVENTS: "100",
    SSE_STALL_MS: "500",
    MAX_WATCHERS: "2",
  });
  const { url } = service;
  const stored = await storeEvents(service, "stall", 6_700);
  const slow = await openRawStream(url, "/events", { "last-event-id": "0" });
  const stalled = await openRawStream(url, "/events", { "last-event-id": "0" });
  expect((await stalled.head()).head).toStartWith("HTTP/1.1 200");
  // MAX_WATCHERS=2: a long-poll finds room only once the stalled stream has been let go.
  const poll = `/orders/${"stall-0".padStart(128, "o")}/status?wait_for=completed&timeout_s=0`;
  const hasRoom = async () => (await call(url, "GET", poll)).status === 200;
  expect(await hasRoom()).toBe(false);

  // Meanwhile the other client reads 256 KB every 100 ms: its stream waits for it all along (the
  // replay is twice what the socket buffers hold), yet it is never idle for SSE_STALL_MS.
  const reading = slow.read(stored.length, 256 * 1024, 100);
  await waitFor(hasRoom, { what: "the stalled stream to be cut off", timeoutMs: 10_000 });
  // Measured from the request: the service's clock starts at its last sight of the socket
  // draining, which can come a few ms before the client's last read (Bun's own write buffer).
  const cutAfter = Date.now() - stalled.sentAt;
  expect(cutAfter).toBeGreaterThanOrEqual(500);
  expect(cutAfter).toBeLessThan(3_000);
  // It reads again: what was in flight, then the end of the stream, well short of the replay.
  stalled.resume();
  await waitFor(stalled.closed, { what: "the stalled connection to end" });
  expect(stalled.events.length).toBeLessThan(stored.length);

  await reading;
  expect(slow.closed()).toBe(false);
  expect(ascending(slow.events.map((e) => e.seq))).toEqual(stored);
  expectStreamOrder(slow.events);
  slow.close();
}, 60_000);

test("a live client that stops reading is cut off after SSE_STALL_MS; the service and other clients go on", async () => {
  const service = await startService({
    SSE_MAX_QUEUED_EVENTS: "1000",
    SSE_STALL_MS: "500",
    MAX_WATCHERS: "2",
  });
  const { url } = service;
  // A raw connection that takes the status line and headers, then reads nothing.
  const stalled = await openRawStream(url, "/events");
  expect((await stalled.head()).head).toStartWith("HTTP/1.1 200");
  const reader = await openStream(url, "/events?user_id=watched");

  // ~20,000 live events (~9 MB): twice what the socket buffers hold, far more than the 1,000
  // allowed to queue.
  const stored = await storeEvents(service, "flood", 6_700);
  await call(url, "POST", "/orders", order("watched-1", { user_id: "watched" }));
  await reader.until(3);

  // MAX_WATCHERS=2: a long-poll finds room once the stalled stream has been let go.
  const poll = "/orders/watched-1/status?wait_for=completed&timeout_s=0";
  await waitFor(async () => (await call(url, "GET", poll)).status === 200, {
    what: "the stalled stream to be cut off",
  });
  // Reading now, it gets what was in flight and then the end of the stream.
  stalled.resume();
  await waitFor(stalled.closed, { what: "the stalled connection to end" });
  expect(stalled.events.length).toBeLessThan(stored.length);
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
