/**
 * Traces end to end (issue 24), with a real OTLP/HTTP receiver in the test (JSON protocol): one
 * order posted with a client's traceparent, failing its first attempt and completing its second,
 * delivered to a webhook. The receiver gets the request's span, both attempts and the deliveries,
 * all in the client's trace; the webhook request carries a traceparent of that trace; the failed
 * attempt's log line carries the trace id. On PostgreSQL, the second attempt runs on another
 * replica, which continues the trace from the order's stored traceparent.
 */
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import pg from "pg";
import {
  call,
  cleanup,
  freshPostgresDatabase,
  order,
  spawnService,
  startService,
  tempDir,
  waitFor,
} from "./helpers.ts";

afterEach(cleanup);

const FAILS_ONCE = join(import.meta.dir, "fixtures/process-order-fails-once.ts");
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";

type ExportedSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
  status?: { code?: number };
};

/** An OTLP/HTTP receiver (JSON): every span it was sent, with its service's name. */
function startCollector() {
  const spans: (ExportedSpan & { service: string })[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const body = (await request.json()) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { spans: ExportedSpan[] }[];
        }[];
      };
      for (const { resource, scopeSpans } of body.resourceSpans) {
        const service = resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "";
        for (const scope of scopeSpans) for (const span of scope.spans) spans.push({ ...span, service });
      }
      return Response.json({});
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, spans, stop: () => server.stop(true) };
}

/** A webhook receiver that records each request's traceparent header. */
function startReceiver() {
  const traceparents: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      await request.text();
      traceparents.push(request.headers.get("traceparent") ?? "");
      return new Response(null, { status: 204 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/hooks`, traceparents, stop: () => server.stop(true) };
}

const attribute = (span: ExportedSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
};

const tracingEnv = (collector: string) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: collector,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
  OTEL_BSP_SCHEDULE_DELAY: "100",
  OTEL_SERVICE_NAME: "orders-under-test",
  PROCESS_ORDER_MODULE: FAILS_ONCE,
  RETRY_BASE_MS: "1",
  WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
});

/** Checks the spans of the order `orderId` the collector got, all in the client's trace. */
function expectOrderTrace(spans: ExportedSpan[], orderId: string) {
  const inTrace = spans.filter((s) => s.traceId === TRACE_ID);
  const request = inTrace.find((s) => s.name === "POST /orders");
  expect(request).toBeDefined();
  expect(request?.parentSpanId).toBe(CLIENT_SPAN);
  expect(request?.kind).toBe(2); // SERVER
  expect(attribute(request as ExportedSpan, "http.response.status_code")).toBe(201);
  const attempts = inTrace
    .filter((s) => s.name === "process order" && attribute(s, "order.id") === orderId)
    .sort((a, b) => Number(attribute(a, "order.attempt")) - Number(attribute(b, "order.attempt")));
  expect(attempts.map((a) => attribute(a, "order.attempt"))).toEqual([1, 2]);
  expect(attempts.map((a) => attribute(a, "order.outcome"))).toEqual(["retry", "completed"]);
  expect(attempts[0]?.status?.code).toBe(2); // ERROR
  for (const attempt of attempts) expect(attempt.parentSpanId).toBe(request?.spanId);
  const deliveries = inTrace.filter((s) => s.name === "webhook delivery");
  // created, claimed, attempt_failed, claimed, completed: each a delivery of this trace.
  expect(deliveries.length).toBeGreaterThanOrEqual(5);
  for (const delivery of deliveries) expect(delivery.parentSpanId).toBe(request?.spanId);
  return { request: request as ExportedSpan, attempts, deliveries };
}

test("SQLite: the request, both attempts and the deliveries are spans of the client's trace", async () => {
  const collector = startCollector();
  const receiver = startReceiver();
  try {
    const service = await spawnService({
      ...tracingEnv(collector.url),
      DATABASE_PATH: join(tempDir(), "o.db"),
    });
    expect((await call(service.url, "POST", "/webhooks", { url: receiver.url })).status).toBe(201);
    const posted = await fetch(new URL("/orders", service.url), {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` },
      body: JSON.stringify(order("traced-1")),
    });
    expect(posted.status).toBe(201);
    await waitFor(
      async () => (await call(service.url, "GET", "/orders/traced-1")).body.status === "completed",
    );
    await waitFor(() => collector.spans.filter((s) => s.name === "webhook delivery").length >= 5, {
      what: "the spans to be exported",
    });
    const { attempts, deliveries } = expectOrderTrace(collector.spans, "traced-1");
    expect(collector.spans.every((s) => s.service === "orders-under-test")).toBe(true);
    // Each webhook request carried its delivery span's traceparent, in the client's trace.
    await waitFor(() => receiver.traceparents.length >= 5);
    for (const header of receiver.traceparents) expect(header).toStartWith(`00-${TRACE_ID}-`);
    const sent = new Set(receiver.traceparents.map((h) => h.split("-")[2]));
    for (const delivery of deliveries) expect(sent.has(delivery.spanId)).toBe(true);
    // The failed attempt's log line names the trace and the attempt's span.
    const failedLine = service
      .output()
      .split("\n")
      .find((line) => line.includes('"order attempt failed"'));
    expect(JSON.parse(failedLine ?? "{}")).toMatchObject({
      orderId: "traced-1",
      trace_id: TRACE_ID,
      span_id: attempts[0]?.spanId,
    });
    // And the request's access log line too.
    const accessLine = service
      .output()
      .split("\n")
      .find((line) => line.includes('"route":"/orders"') && line.includes('"method":"POST"'));
    expect(JSON.parse(accessLine ?? "{}")).toMatchObject({ trace_id: TRACE_ID });
  } finally {
    collector.stop();
    receiver.stop();
  }
});

test.skipIf(!process.env.TEST_DATABASE_URL)(
  "PostgreSQL: an attempt on another replica continues the order's trace",
  async () => {
    const collector = startCollector();
    const receiver = startReceiver();
    try {
      const url = await freshPostgresDatabase();
      // The first attempt fails on replica A, whose retry is due up to 5 minutes later (full jitter:
      // sooner than a second once in 300); A is stopped, the retry made due now, and the second
      // attempt runs on replica B, which knows the trace only from the order's row.
      const env = { ...tracingEnv(collector.url), DATABASE_URL: url, RETRY_BASE_MS: "300000" };
      const a = await spawnService({ ...env, OTEL_SERVICE_NAME: "replica-a" });
      expect((await call(a.url, "POST", "/webhooks", { url: receiver.url })).status).toBe(201);
      const posted = await fetch(new URL("/orders", a.url), {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` },
        body: JSON.stringify(order("traced-pg")),
      });
      expect(posted.status).toBe(201);
      // Its first attempt has failed (not merely started): pending again, with the error.
      await waitFor(async () => {
        const { body } = await call(a.url, "GET", "/orders/traced-pg");
        return body.status === "pending" && body.attempts === 1 && body.last_error !== null;
      });
      a.proc.kill("SIGTERM");
      await a.proc.exited;
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      await db.query("UPDATE orders SET run_at = now() WHERE order_id = 'traced-pg' AND status = 'pending'");
      await db.end();
      const b = await spawnService({ ...env, OTEL_SERVICE_NAME: "replica-b" });
      await waitFor(async () => (await call(b.url, "GET", "/orders/traced-pg")).body.status === "completed", {
        timeoutMs: 20_000,
      });
      await waitFor(() => collector.spans.filter((s) => s.name === "webhook delivery").length >= 5, {
        what: "the spans to be exported",
      });
      const { attempts } = expectOrderTrace(collector.spans, "traced-pg");
      const services = attempts.map(
        (attempt) => collector.spans.find((s) => s.spanId === attempt.spanId)?.service,
      );
      expect(services).toEqual(["replica-a", "replica-b"]);
    } finally {
      collector.stop();
      receiver.stop();
    }
  },
);

test("sampling follows the parent: at ratio 0 a new trace makes no span, a client's sampled trace is followed", async () => {
  const collector = startCollector();
  try {
    const { url } = await startService({
      ...tracingEnv(collector.url),
      PROCESS_ORDER_MODULE: "",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0",
    });
    expect((await call(url, "POST", "/orders", order("unsampled"))).status).toBe(201);
    const followed = await fetch(new URL("/orders", url), {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` },
      body: JSON.stringify(order("followed")),
    });
    expect(followed.status).toBe(201);
    for (const id of ["unsampled", "followed"])
      await waitFor(async () => (await call(url, "GET", `/orders/${id}`)).body.status === "completed");
    await waitFor(() => collector.spans.some((s) => s.name === "process order"), {
      what: "the attempt's span",
    });
    // Everything exported is the followed order's trace; the other order made no span at all.
    expect(collector.spans.every((s) => s.traceId === TRACE_ID)).toBe(true);
    expect(collector.spans.map((s) => s.name).sort()).toEqual(["POST /orders", "process order"]);
  } finally {
    collector.stop();
  }
});
