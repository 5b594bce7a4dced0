import { isSpanContextValid, propagation, ROOT_CONTEXT, trace as traceApi } from "@opentelemetry/api";
import type { Context, TextMapGetter, TextMapSetter } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/nats-core";
import { LeanSpan } from "./lean-tracer.js";

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
 * A request's span as a W3C `traceparent` (what the W3C propagator would write), when it has a
 * valid one. Formatted here: the propagator API's inject costs a carrier, the baggage propagator
 * and two regular-expression checks of ids, per event. A span this service's tracer made is valid
 * by construction; any other is checked.
 */
export function currentTraceparent(trace: Context): string | undefined {
  const span = traceApi.getSpan(trace);
  const spanContext = span?.spanContext();
  if (!spanContext || (!(span instanceof LeanSpan) && !isSpanContextValid(spanContext))) return undefined;
  const flags = spanContext.traceFlags & 0xff;
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags < 16 ? "0" : ""}${flags.toString(16)}`;
}
