import { isSpanContextValid, propagation, ROOT_CONTEXT, trace as traceApi } from "@opentelemetry/api";
import type { Context, TextMapGetter, TextMapSetter } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/nats-core";

const getter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (headers) => (headers ? headers.keys() : []),
  get: (headers, key) => headers?.get(key) || undefined,
};

const setter: TextMapSetter<MsgHdrs> = {
  set: (headers, key, value) => headers.set(key, value),
};

/** The caller's trace context from NATS headers (W3C `traceparent`/`tracestate`). */
export function extractTraceContext(headers: MsgHdrs | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, headers, getter);
}

/** Writes a request's trace context into outgoing NATS headers. */
export function injectTraceContext(headers: MsgHdrs, trace: Context): void {
  propagation.inject(trace, headers, setter);
}

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
