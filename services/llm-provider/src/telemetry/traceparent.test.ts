import { propagation, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import type { Context } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { currentTraceparent } from "./traceparent.js";

// This file runs in a process of its own: the global propagator is the service's.
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

/** What the W3C propagator writes for the context. */
function injected(context: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context, carrier);
  return carrier.traceparent;
}

describe("currentTraceparent", () => {
  it("formats the span's context as the W3C propagator does", () => {
    const tracer = new BasicTracerProvider().getTracer("t");
    const remote = {
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      isRemote: true,
    };
    const contexts = [
      trace.setSpan(ROOT_CONTEXT, tracer.startSpan("local")),
      trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ ...remote, traceFlags: TraceFlags.NONE })),
      trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ ...remote, traceFlags: TraceFlags.SAMPLED })),
    ];
    for (const context of contexts) {
      expect(currentTraceparent(context)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      expect(currentTraceparent(context)).toBe(injected(context));
    }
    expect(currentTraceparent(contexts[1]!)).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
  });

  it("gives nothing without a valid span", () => {
    const invalid = trace.setSpan(
      ROOT_CONTEXT,
      trace.wrapSpanContext({ traceId: "not-hex", spanId: "0000000000000000", traceFlags: 1 }),
    );
    for (const context of [ROOT_CONTEXT, invalid]) {
      expect(currentTraceparent(context)).toBeUndefined();
      expect(injected(context)).toBeUndefined();
    }
  });
});
