import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";
import type { Span, Tracer, TracerProvider } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import type { IdGenerator, ReadableSpan, Sampler, SpanLimits } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { LeanTracerProvider, PARENT_BASED_ALWAYS_ON } from "./lean-tracer.js";
import { SynchronousContextManager } from "./synchronous-context-manager.js";
import { SpanAppender } from "./otlp-span-serializer.js";

// What the service installs (this file runs in a process of its own).
context.setGlobalContextManager(new SynchronousContextManager().enable());

/** The same ids, in the same order, for both providers. */
class CountingIdGenerator implements IdGenerator {
  #next = 1;
  generateTraceId = () => (this.#next++).toString(16).padStart(32, "a");
  generateSpanId = () => (this.#next++).toString(16).padStart(16, "b");
}

const resource = resourceFromAttributes({ "service.name": "lean-test", "deployment.environment.name": "ci" });
const START = 1_764_600_000_123; // epoch ms
const REMOTE_PARENT = {
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
};

/** By default the SDK's default sampler, which the lean tracer decides itself (its fast path). */
function providers(spanLimits: SpanLimits = {}, sampler?: Sampler) {
  const sdkSpans = new InMemorySpanExporter();
  const leanSpans = new InMemorySpanExporter();
  const sdk = new BasicTracerProvider({
    resource,
    sampler: sampler ?? new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanLimits,
    idGenerator: new CountingIdGenerator(),
    spanProcessors: [new SimpleSpanProcessor(sdkSpans)],
  });
  const lean = new LeanTracerProvider({
    resource,
    sampler: sampler ?? PARENT_BASED_ALWAYS_ON,
    spanLimits,
    idGenerator: new CountingIdGenerator(),
    spanProcessor: new SimpleSpanProcessor(leanSpans),
  });
  return { sdk, lean, sdkSpans, leanSpans };
}

/** What a span says, as plain data (times only where they were given). */
function describeSpan(span: ReadableSpan, withTimes: boolean) {
  return {
    name: span.name,
    kind: span.kind,
    spanContext: span.spanContext(),
    parentSpanContext: span.parentSpanContext,
    attributes: { ...span.attributes },
    events: span.events.map((event) => ({ ...event, time: withTimes ? event.time : undefined })),
    links: span.links,
    status: span.status,
    dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
    times: withTimes ? [span.startTime, span.endTime, span.duration] : undefined,
    ended: span.ended,
    resource: span.resource.attributes,
    scope: span.instrumentationScope,
  };
}

/** Everything the service does with spans, and the odd things a caller might. */
function exercise(provider: TracerProvider): { active: unknown; recording: boolean[] } {
  const tracer: Tracer = provider.getTracer("llm-provider", "1.2.3");
  const server = tracer.startSpan(
    "process llm-provider.cmd.complete_chat",
    {
      kind: SpanKind.SERVER,
      attributes: { "messaging.system": "nats", list: ["a", "b"], count: 3 },
      startTime: START,
    },
    trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext(REMOTE_PARENT)),
  );
  server.setAttribute("count", 4); // overwritten in place
  server.setAttribute("nothing", undefined as never); // ignored
  server.setAttribute("object", { not: "allowed" } as never); // invalid: ignored
  server.setAttribute("", "empty key"); // invalid: ignored
  server.setAttributes({ "llm_provider.cost_usd": 0.00012, flag: true });
  const client = tracer.startSpan(
    "chat gpt-4o-mini",
    { kind: SpanKind.CLIENT, attributes: { "gen_ai.operation.name": "chat" }, startTime: START + 1 },
    trace.setSpan(ROOT_CONTEXT, server),
  );
  client.addEvent("retry", { attempt: 2, reason: "rate_limited" }, START + 2);
  client.addEvent("plain", START + 3);
  const failure = Object.assign(new Error("upstream said no"), { code: "rate_limited" });
  failure.stack = "Error: upstream said no\n    at test";
  client.recordException(failure, START + 4);
  client.recordException("just a message", START + 5);
  client.setStatus({ code: SpanStatusCode.ERROR, message: "rate_limited" });
  client.updateName("chat gpt-4o-mini (retried)");
  client.addLink({ context: REMOTE_PARENT, attributes: { why: "batched" } });
  client.end(START + 6);
  client.end(START + 7); // a second end is refused
  client.setAttribute("after", "end"); // ignored once ended
  server.setStatus({ code: SpanStatusCode.OK });
  server.setStatus({ code: SpanStatusCode.ERROR, message: "too late" }); // OK is final
  server.end(START + 10);

  const unsampled = tracer.startSpan(
    "unsampled",
    {},
    trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ ...REMOTE_PARENT, traceFlags: TraceFlags.NONE })),
  );
  const suppressed = tracer.startSpan("suppressed", {}, suppressTracing(ROOT_CONTEXT));
  const active = tracer.startActiveSpan("active", { startTime: START + 20 }, ROOT_CONTEXT, (span: Span) => {
    const inside = trace.getSpan(context.active()) === span;
    span.end(START + 21);
    return inside;
  });
  const root = tracer.startSpan(
    "root",
    { root: true, startTime: START + 30 },
    trace.setSpan(ROOT_CONTEXT, server),
  );
  root.end(START + 31);
  unsampled.end();
  suppressed.end();
  return { active, recording: [unsampled.isRecording(), suppressed.isRecording()] };
}

describe("LeanTracerProvider", () => {
  it("makes the same spans as the SDK's TracerProvider", () => {
    const { sdk, lean, sdkSpans, leanSpans } = providers();
    const sdkRun = exercise(sdk);
    const leanRun = exercise(lean);
    expect(leanRun).toEqual(sdkRun);
    expect(leanRun).toEqual({ active: true, recording: [false, false] });
    const sdkFinished = sdkSpans.getFinishedSpans();
    const leanFinished = leanSpans.getFinishedSpans();
    expect(leanFinished.map((span) => describeSpan(span, true))).toEqual(
      sdkFinished.map((span) => describeSpan(span, true)),
    );
    expect(leanFinished.map((span) => span.name)).toEqual([
      "chat gpt-4o-mini (retried)",
      "process llm-provider.cmd.complete_chat",
      "active",
      "root",
    ]);
    // And the bytes on the wire: the service's serializer over lean spans, the SDK's over its own.
    const appender = new SpanAppender();
    for (const span of leanFinished) appender.append(span);
    expect(Buffer.from(appender.take()!)).toEqual(
      Buffer.from(ProtobufTraceSerializer.serializeRequest(sdkFinished)!),
    );
  });

  it("asks any other sampler, as the SDK does", () => {
    const { sdk, lean, sdkSpans, leanSpans } = providers(
      {},
      new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0) }),
    );
    expect(exercise(lean)).toEqual(exercise(sdk));
    // Roots are never sampled now; children of the sampled remote parent still are.
    expect(leanSpans.getFinishedSpans().map((span) => describeSpan(span, true))).toEqual(
      sdkSpans.getFinishedSpans().map((span) => describeSpan(span, true)),
    );
    expect(leanSpans.getFinishedSpans().map((span) => span.name)).toEqual([
      "chat gpt-4o-mini (retried)",
      "process llm-provider.cmd.complete_chat",
    ]);
  });

  it("applies the span limits as the SDK does", () => {
    const limits: SpanLimits = {
      attributeCountLimit: 3,
      attributeValueLengthLimit: 4,
      eventCountLimit: 2,
      attributePerEventCountLimit: 1,
      linkCountLimit: 1,
      attributePerLinkCountLimit: 1,
    };
    const { sdk, lean, sdkSpans, leanSpans } = providers(limits);
    for (const provider of [sdk, lean]) {
      const span = provider.getTracer("t").startSpan("limited", { startTime: START });
      span.setAttributes({ a: "long value", b: ["abcdef", "xy"], c: 1, d: 2 });
      span.setAttribute("a", "still long"); // an existing key is replaced even at the limit
      for (const name of ["e1", "e2", "e3"]) span.addEvent(name, { x: 1, y: 2 }, START + 1);
      span.addLinks([
        { context: REMOTE_PARENT, attributes: { p: 1, q: 2 } },
        { context: REMOTE_PARENT, attributes: { r: 3 } },
      ]);
      span.end(START + 2);
    }
    const [sdkSpan] = sdkSpans.getFinishedSpans();
    const [leanSpan] = leanSpans.getFinishedSpans();
    expect(describeSpan(leanSpan!, true)).toEqual(describeSpan(sdkSpan!, true));
    expect(leanSpan!.attributes).toEqual({ a: "stil", b: ["abcd", "xy"], c: 1 });
    expect(leanSpan!.droppedAttributesCount).toBe(1);
    expect(leanSpan!.events.map((event) => event.name)).toEqual(["e2", "e3"]);
  });

  it("keeps no events or links at limits of 0, counting each as dropped, as the SDK does", () => {
    const { sdk, lean, sdkSpans, leanSpans } = providers({ eventCountLimit: 0, linkCountLimit: 0 });
    for (const provider of [sdk, lean]) {
      const span = provider.getTracer("t").startSpan("unlimited", {
        startTime: START,
        links: [{ context: REMOTE_PARENT }],
      });
      for (const name of ["e1", "e2"]) span.addEvent(name, START + 1);
      span.addLink({ context: REMOTE_PARENT });
      span.end(START + 2);
    }
    const [sdkSpan] = sdkSpans.getFinishedSpans();
    const [leanSpan] = leanSpans.getFinishedSpans();
    expect(describeSpan(leanSpan!, true)).toEqual(describeSpan(sdkSpan!, true));
    expect([leanSpan!.events.length, leanSpan!.droppedEventsCount]).toEqual([0, 2]);
    expect([leanSpan!.links.length, leanSpan!.droppedLinksCount]).toEqual([0, 2]);
  });

  it("times spans without given times from the performance clock, like the SDK", () => {
    const { lean, leanSpans } = providers();
    const before = Date.now();
    const span = lean.getTracer("t").startSpan("timed");
    span.addEvent("midway");
    span.end();
    const [finished] = leanSpans.getFinishedSpans();
    const millis = ([seconds, nanos]: [number, number]) => seconds * 1000 + nanos / 1e6;
    expect(millis(finished!.startTime)).toBeGreaterThanOrEqual(before);
    expect(millis(finished!.startTime)).toBeLessThanOrEqual(Date.now());
    expect(millis(finished!.events[0]!.time)).toBeGreaterThanOrEqual(millis(finished!.startTime));
    expect(millis(finished!.endTime)).toBeGreaterThanOrEqual(millis(finished!.events[0]!.time));
    expect(millis(finished!.duration)).toBeCloseTo(
      millis(finished!.endTime) - millis(finished!.startTime),
      3,
    );
  });
});
