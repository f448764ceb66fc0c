/**
 * OpenTelemetry traces (issue 24), set up from the OTEL_* settings (config-tracing.ts) on each
 * thread that makes spans: the main thread (requests, attempts) and the webhook sender's thread
 * (deliveries). Spans go out over OTLP/HTTP in batches (protobuf, or JSON), off the request path.
 *
 * Why the SDK directly and not `@elysiajs/opentelemetry`: measured on this machine kind, the plugin
 * cut a validate-only route to 0.20× even at 1% sampling (its cost is per request whatever the
 * sampler), while one span per request through the SDK cost ~9 µs at 100% (library-facts.md;
 * our own figures: docs/PERFORMANCE.md, "Traces"). With tracing off none of this module runs.
 *
 * An order's trace context travels as its W3C `traceparent` string, stored with the order: any
 * replica or thread that works on it later continues that trace.
 */
import { type Context, context, type Span, type SpanOptions, type Tracer, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { TracingConfig } from "../config-tracing.ts";

export type { Span };

/** What the service's parts make spans with; one per thread. */
export type Tracing = {
  /** Starts a span, a child of `parent` (a traceparent; none or invalid: a new trace, sampled anew). */
  start(name: string, parent: string | null | undefined, options?: SpanOptions): Span;
  /**
   * Whether a new trace (a request without a traceparent) is kept, decided before any span is made:
   * an unkept one makes no span at all (the parent-based samplers; the others decide in the SDK).
   */
  keepsNewTrace(): boolean;
  /** Starts a span, a child of `parent`, a span of this thread. */
  startChild(name: string, parent: Span, options?: SpanOptions): Span;
  /** The W3C traceparent of `span`, to store with an order or send on a request. */
  traceparentOf(span: Span): string;
  /** Exports what is buffered (for at most 2 s) and stops. */
  shutdown(): Promise<void>;
};

const propagator = new W3CTraceContextPropagator();
// How long a stop waits for the last spans to be exported.
const SHUTDOWN_MS = 2000;
const getter = {
  get: (carrier: { traceparent: string }, key: string) =>
    key === "traceparent" ? carrier.traceparent : undefined,
  keys: () => ["traceparent"],
};

/**
 * Who decides whether a new trace is kept. For the parent-based samplers (the default family) the
 * request layer does, before making any span: an unkept request then costs nothing (measured: the
 * SDK's non-recording spans cost 10% at 10% sampling, docs/PERFORMANCE.md "Traces"), and the SDK
 * keeps every root it is given and follows the parent for the rest. The others decide in the SDK.
 */
function rootDecision({ sampler, ratio }: TracingConfig): (() => boolean) | undefined {
  if (sampler === "parentbased_always_on") return () => true;
  if (sampler === "parentbased_always_off") return () => false;
  if (sampler === "parentbased_traceidratio") return () => Math.random() < ratio;
  return undefined;
}

/** The sampler OTEL_TRACES_SAMPLER names (a root the request layer kept: always on). */
function samplerOf({ sampler, ratio }: TracingConfig): Sampler {
  if (sampler.startsWith("parentbased_")) return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  if (sampler === "always_off") return new AlwaysOffSampler();
  return sampler === "traceidratio" ? new TraceIdRatioBasedSampler(ratio) : new AlwaysOnSampler();
}

/** The context whose span `traceparent` names (the active one when there is none or it is invalid). */
function parentContext(traceparent: string | null | undefined): Context {
  if (!traceparent) return context.active();
  return propagator.extract(context.active(), { traceparent }, getter);
}

/** Starts tracing on this thread with `config`. */
export function startTracing(config: TracingConfig): Tracing {
  const Exporter = config.protocol === "http/json" ? JsonExporter : ProtobufExporter;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ ...config.resourceAttributes, "service.name": config.serviceName }),
    sampler: samplerOf(config),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new Exporter({ url: config.endpoint, headers: config.headers }),
        scheduledDelayMillis: config.scheduleDelayMs,
      }),
    ],
  });
  const tracer: Tracer = provider.getTracer("order-service");
  return {
    start: (name, parent, options) => tracer.startSpan(name, options, parentContext(parent)),
    keepsNewTrace: rootDecision(config) ?? (() => true),
    startChild: (name, parent, options) =>
      tracer.startSpan(name, options, trace.setSpan(context.active(), parent)),
    traceparentOf(span) {
      const { traceId, spanId, traceFlags } = span.spanContext();
      return `00-${traceId}-${spanId}-0${traceFlags & 1}`;
    },
    // An unreachable collector must not hold a stop past its deadline: what is not out by then is lost.
    shutdown: () => Promise.race([provider.shutdown(), Bun.sleep(SHUTDOWN_MS)]),
  };
}

/** The ids a log line of a sampled span carries (none for a span that is not recorded). */
export function traceIdsOf(span: Span | undefined): { trace_id: string; span_id: string } | undefined {
  if (!span?.isRecording()) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
