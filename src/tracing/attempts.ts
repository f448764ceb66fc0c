/**
 * A span per processing attempt (tracing on), told by the dispatcher as a queue observer: started
 * when the order is claimed, ended when its outcome is committed, on whichever replica claimed it.
 * Its parent is the order's stored traceparent, the request that created it: an order's attempts
 * (and its webhook deliveries) are children in the client's trace, not links to it, so one trace
 * holds the order's whole story, which is what an operator opening it is after; a retry hours
 * later makes a long trace, which the backends show well enough. A module's steps are children of
 * their attempt. A failed attempt is also logged, with the span's ids.
 */
import { type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { Logger } from "../kit/logger.ts";
import type { QueueObserver } from "../queue/observer.ts";
import { ignoreQueue } from "../queue/observer.ts";
import { type Tracing, traceIdsOf } from "./tracing.ts";

// Attempts in flight with a span, by the order's seq. One whose outcome never comes (its thread
// died, its lease was lost, the service stopped) is dropped from here unexported after this many.
const MAX_OPEN = 100_000;

/** The attempt spans, as a queue observer. */
export function attemptSpans(tracing: Tracing, log: Logger): QueueObserver {
  const open = new Map<number, { span: Span; orderId: string; attempt: number }>();
  return {
    ...ignoreQueue,
    claimed(order) {
      if (order.traceParent === null) return;
      if (open.size >= MAX_OPEN) open.clear();
      const span = tracing.start("process order", order.traceParent, {
        kind: SpanKind.CONSUMER,
        startTime: order.startedAt ?? Date.now(),
        attributes: { "order.id": order.orderId, "order.attempt": order.attempts },
      });
      open.set(order.seq, { span, orderId: order.orderId, attempt: order.attempts });
    },
    step(name, outcome, ms, seq) {
      const attempt = open.get(seq);
      if (!attempt) return;
      const end = Date.now();
      const span = tracing.startChild(`step ${name}`, attempt.span, {
        startTime: end - (ms ?? 0),
        attributes: { "order.step": name, "order.step.outcome": outcome },
      });
      if (outcome === "failed" || outcome === "compensation_failed")
        span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(end);
    },
    settled(outcome, _tookMs, settlement) {
      const attempt = open.get(settlement.seq);
      if (!attempt) return;
      open.delete(settlement.seq);
      const { span, orderId } = attempt;
      span.setAttribute("order.outcome", outcome);
      if (outcome === "retry" || outcome === "failed") {
        const error = settlement.lastError ?? String(settlement.transition.details?.error ?? outcome);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error });
        log("info", "order attempt failed", {
          orderId,
          attempt: attempt.attempt,
          outcome,
          error,
          ...traceIdsOf(span),
        });
      }
      span.end();
    },
  };
}
