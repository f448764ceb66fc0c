/**
 * Retention end to end, on a real service (SQLite, or PostgreSQL with TEST_STORAGE=postgres) with
 * retentions of a second or two: old events go, an order's history says so, an SSE resume from a
 * pruned id is told and goes on, the counter and the dashboard show it; orders go only when
 * ORDER_RETENTION_DAYS is set, and a pruned order_id is then a new order.
 */
import { afterEach, expect, test } from "bun:test";
import { call, cleanup, order, startService, waitFor } from "./helpers.ts";

afterEach(cleanup);

// 1.7 s: a pass runs every second (a tenth of it, at least 1 s).
const SHORT_DAYS = "0.00002";

async function postAndComplete(url: URL, ids: string[]): Promise<void> {
  for (const id of ids) expect((await call(url, "POST", "/orders", order(id))).status).toBe(201);
  for (const id of ids)
    await waitFor(async () => (await call(url, "GET", `/orders/${id}`)).body.status === "completed", {
      what: `${id} to complete`,
    });
}

/** The first `count` SSE messages after `lastEventId`, as {event, id, data} (comments skipped). */
async function sseMessages(url: URL, lastEventId: string, count: number) {
  const res = await fetch(new URL("/events", url), { headers: { "last-event-id": lastEventId } });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  const messages: { event?: string; id?: string; data: unknown }[] = [];
  while (messages.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end = text.indexOf("\n\n");
    while (end >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const fields = Object.fromEntries(
        block
          .split("\n")
          .filter((line) => line && !line.startsWith(":"))
          .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]),
      );
      if (fields.data !== undefined)
        messages.push({ event: fields.event, id: fields.id, data: JSON.parse(fields.data) });
      end = text.indexOf("\n\n");
    }
  }
  await reader.cancel();
  return messages;
}

test("old events are pruned: history says so, an SSE resume is told and goes on, metrics and dashboard show it", async () => {
  const { url } = await startService({ EVENT_RETENTION_DAYS: SHORT_DAYS });
  await postAndComplete(url, ["r1", "r2", "r3"]);
  const [firstEvent] = (await call(url, "GET", "/orders/r1/events")).body.events;
  await waitFor(async () => (await call(url, "GET", "/orders/r1/events")).body.events_pruned === true, {
    what: "r1's history to be pruned",
    timeoutMs: 15_000,
  });
  // The order itself is a business record: kept (no ORDER_RETENTION_DAYS).
  expect((await call(url, "GET", "/orders/r1")).body.status).toBe("completed");
  // A new order after the pruning: its whole history, not flagged.
  await postAndComplete(url, ["r4"]);
  const fresh = (await call(url, "GET", "/orders/r4/events")).body;
  expect(fresh.events_pruned).toBe(false);
  expect(fresh.events.map((e: { type: string }) => e.type)).toEqual(["created", "claimed", "completed"]);

  // A resume from the first event: 200, a `pruned` message first, then the oldest kept onwards.
  const [notice, next] = await sseMessages(url, String(firstEvent.seq), 2);
  expect(notice?.event).toBe("pruned");
  expect(notice?.id).toBeUndefined();
  const { oldest_kept_seq, last_event_id } = (notice?.data ?? {}) as {
    oldest_kept_seq: number;
    last_event_id: number;
  };
  expect(last_event_id).toBe(firstEvent.seq);
  expect(oldest_kept_seq).toBeGreaterThan(firstEvent.seq + 1);
  expect(Number(next?.id)).toBe(oldest_kept_seq);
  // A resume from the newest event is not told anything.
  const latest = fresh.events.at(-1).seq;
  await call(url, "POST", "/orders", order("r5"));
  const [after] = await sseMessages(url, String(latest), 1);
  expect(after?.event).toBeUndefined();
  expect(after?.data).toMatchObject({ order_id: "r5" });

  const prometheus = await (await fetch(new URL("/metrics?format=prometheus", url))).text();
  const pruned = Number(/history_pruned_rows_total\{table="events"\} (\d+)/.exec(prometheus)?.[1]);
  // At least r1's three (what the passes took depends on when they ran against the 1.7 s limit).
  expect(pruned).toBeGreaterThanOrEqual(3);
  const dashboard = (await call(url, "GET", "/dashboard/data")).body;
  expect(Date.parse(dashboard.history.oldest_event_at)).toBeGreaterThan(Date.parse(firstEvent.at));
});

test("with ORDER_RETENTION_DAYS, finished orders go once their history has; a pruned order_id is a new order", async () => {
  const { url } = await startService({ EVENT_RETENTION_DAYS: SHORT_DAYS, ORDER_RETENTION_DAYS: SHORT_DAYS });
  await postAndComplete(url, ["p1", "p2"]);
  await waitFor(async () => (await call(url, "GET", "/orders/p1")).status === 404, {
    what: "p1 to be pruned",
    timeoutMs: 15_000,
  });
  const again = await call(url, "POST", "/orders", order("p1"));
  expect(again.status).toBe(201);
  const history = (await call(url, "GET", "/orders/p1/events")).body;
  expect(history.events[0].type).toBe("created");
  const prometheus = await (await fetch(new URL("/metrics?format=prometheus", url))).text();
  expect(
    Number(/history_pruned_rows_total\{table="orders"\} (\d+)/.exec(prometheus)?.[1]),
  ).toBeGreaterThanOrEqual(1);
});
