/** Cancelling orders, including against workers racing to claim them. */
import { afterEach, expect, test } from "bun:test";
import { call, cleanup, metrics, order, startService, waitFor } from "./helpers.ts";

afterEach(cleanup);

test("a pending order is cancelled once; again is a no-op; other states are 409; unknown is 404", async () => {
  // One worker with one slot and long processing: the first order is processing, the rest stay pending.
  const { url } = await startService({
    WORKERS: "1",
    WORKER_CONCURRENCY: "1",
    PROCESSING_TIME_MS: "60000",
    SHUTDOWN_TIMEOUT_MS: "0",
  });
  await call(url, "POST", "/orders", order("busy"));
  await call(url, "POST", "/orders", order("waiting"));
  await waitFor(async () => (await call(url, "GET", "/orders/busy/status")).body.status === "processing");

  const cancelled = await call(url, "POST", "/orders/waiting/cancel");
  expect(cancelled.status).toBe(200);
  expect(cancelled.body).toMatchObject({
    order_id: "waiting",
    status: "cancelled",
    started_at: null,
    attempts: 0,
  });
  const again = await call(url, "POST", "/orders/waiting/cancel");
  expect(again.status).toBe(200);
  expect(again.body.status).toBe("cancelled");

  const busy = await call(url, "POST", "/orders/busy/cancel");
  expect(busy.status).toBe(409);
  expect(busy.body.error.code).toBe("ORDER_NOT_CANCELLABLE");
  const missing = await call(url, "POST", "/orders/nope/cancel");
  expect(missing.status).toBe(404);
  expect(missing.body.error.code).toBe("ORDER_NOT_FOUND");
  expect((await metrics(url)).status_counts).toMatchObject({ processing: 1, cancelled: 1, pending: 0 });
});

test("a completed order cannot be cancelled", async () => {
  const { url } = await startService();
  await call(url, "POST", "/orders", order("done"));
  await waitFor(async () => (await call(url, "GET", "/orders/done/status")).body.status === "completed");
  const res = await call(url, "POST", "/orders/done/cancel");
  expect(res.status).toBe(409);
  expect(res.body.error.code).toBe("ORDER_NOT_CANCELLABLE");
});

test("cancels racing the workers: both outcomes happen, and no order is both cancelled and processed", async () => {
  // 16 slots for 300 orders: the first ones are claimed before their cancel arrives (the cancel
  // loses), the rest wait pending while the slots are busy (the cancel wins). Both must occur.
  const { url } = await startService({ WORKERS: "2", WORKER_CONCURRENCY: "8", PROCESSING_TIME_MS: "2" });
  const ids = Array.from({ length: 300 }, (_, i) => `race-${i}`);
  const answers = await Promise.all(
    ids.map(async (id) => {
      await call(url, "POST", "/orders", order(id));
      return { id, cancel: await call(url, "POST", `/orders/${id}/cancel`) };
    }),
  );
  await waitFor(async () => {
    const counts = (await metrics(url)).status_counts;
    return counts.completed + counts.cancelled === ids.length;
  });
  let cancelledCount = 0;
  for (const { id, cancel } of answers) {
    const final = (await call(url, "GET", `/orders/${id}`)).body;
    if (cancel.status === 200) {
      cancelledCount++;
      expect(final).toMatchObject({ status: "cancelled", attempts: 0, started_at: null, completed_at: null });
    } else {
      expect(cancel.status).toBe(409);
      expect(final.status).toBe("completed");
      expect(final.attempts).toBe(1);
    }
  }
  expect(cancelledCount).toBeGreaterThan(0);
  expect(cancelledCount).toBeLessThan(ids.length);
  expect((await metrics(url)).status_counts.cancelled).toBe(cancelledCount);
});
