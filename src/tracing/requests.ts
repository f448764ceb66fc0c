/**
 * A span per HTTP request (tracing on): started when the policy first sees the request, a child of
 * the client's `traceparent` header when it sends a valid one, named by the route template once
 * the route is known (`POST /orders`), ended when the answer is recorded. The spans are kept by
 * request object, so nothing has to carry them through Elysia's context.
 */
import { type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { type Tracing, traceIdsOf } from "./tracing.ts";

/** The request spans of one HTTP app. */
export function requestSpans(tracing: Tracing) {
  const open = new WeakMap<Request, Span>();
  return {
    /** Starts `request`'s span. */
    start(request: Request, requestId: string): void {
      const parent = request.headers.get("traceparent");
      if (parent === null && !tracing.keepsNewTrace()) return;
      const span = tracing.start("HTTP request", parent, {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": request.method, "http.request.id": requestId },
      });
      open.set(request, span);
    },
    /** Ends `request`'s span with its route and status; the ids its log line carries, if sampled. */
    end(request: Request, method: string, route: string, status: number) {
      const span = open.get(request);
      if (!span) return undefined;
      open.delete(request);
      span.updateName(`${method} ${route}`);
      span.setAttributes({ "http.route": route, "http.response.status_code": status });
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      const ids = traceIdsOf(span);
      span.end();
      return ids;
    },
    /**
     * The traceparent of `request`'s span, which an order it creates keeps; null without one, and
     * for a span not sampled: its order's attempts and deliveries would not be sampled either
     * (the samplers follow the parent), so an unsampled order stores nothing and costs no span
     * later (measured: docs/PERFORMANCE.md, "Traces").
     */
    traceparentOf(request: Request): string | null {
      const span = open.get(request);
      return span?.isRecording() ? tracing.traceparentOf(span) : null;
    },
  };
}
