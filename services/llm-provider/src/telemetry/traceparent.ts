import { isSpanContextValid, trace as traceApi } from "@opentelemetry/api";
import type { Context } from "@opentelemetry/api";

/**
 * A request's span as a W3C `traceparent` (what the W3C propagator writes), when it has a valid
 * one. Formatted here rather than through `propagation.inject`, which would need a carrier object
 * per event and depends on which propagators `OTEL_PROPAGATORS` configured; the event's
 * `traceparent` field is W3C whatever they are.
 */
export function currentTraceparent(trace: Context): string | undefined {
  const spanContext = traceApi.getSpanContext(trace);
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  const flags = spanContext.traceFlags & 0xff;
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags < 16 ? "0" : ""}${flags.toString(16)}`;
}
