import { propagation, ROOT_CONTEXT } from "@opentelemetry/api";
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
