import { context, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";
import type { Attributes, SpanContext, Tracer } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { ReadableSpan, SpanLimits } from "@opentelemetry/sdk-trace-base";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { SpanAppender } from "./otlp-span-serializer.js";

/** One appender for the whole file: its caches get warm, and must never change the output. */
const shared = new SpanAppender();

function official(spans: ReadableSpan[]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (!bytes) throw new Error("the official serializer returned nothing");
  return bytes;
}

/** The request the appender gives for the spans; none for no spans, as empty bytes. */
function ours(spans: ReadableSpan[], appender = shared): Uint8Array {
  for (const span of spans) appender.append(span);
  expect(appender.count).toBe(spans.length);
  const bytes = appender.take();
  expect(appender.count).toBe(0);
  return bytes ?? new Uint8Array(0);
}

/** Same bytes as the official serializer from a new appender, and twice from the warm one. */
function expectOfficialBytes(spans: ReadableSpan[]): Uint8Array {
  const expected = official(spans);
  expect(Buffer.compare(ours(spans, new SpanAppender()), expected)).toBe(0);
  expect(Buffer.compare(ours(spans), expected)).toBe(0);
  expect(Buffer.compare(ours(spans), expected)).toBe(0);
  return expected;
}

function recorder(
  attributes: Attributes = { "service.name": "llm-provider" },
  spanLimits?: SpanLimits,
): { tracer: (name?: string, version?: string, schemaUrl?: string) => Tracer; spans: () => ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(attributes),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    ...(spanLimits && { spanLimits }),
  });
  return {
    tracer: (name = "llm-provider", version, schemaUrl) =>
      provider.getTracer(name, version, schemaUrl === undefined ? undefined : { schemaUrl }),
    spans: () => exporter.getFinishedSpans(),
  };
}

const remoteParent: SpanContext = {
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState("vendor=abc,other=x-1"),
};

const everyAttributeType: Attributes = {
  string: "gpt-4o-mini",
  empty: "",
  accents: "café crème",
  emoji: "🚀 launch 👩‍💻",
  cjk: "模型",
  "clé-non-ascii-🔑": "value",
  int: 42,
  zero: 0,
  negative: -7,
  minInt32: -(2 ** 31),
  beyondInt32: 2 ** 31 + 5,
  beyondUint32: 2 ** 32 + 1,
  maxSafe: Number.MAX_SAFE_INTEGER,
  beyondSafe: 2 ** 60,
  minInt64: -(2 ** 63),
  tooLargeForInt64: 2 ** 63,
  double: 0.2,
  negativeDouble: -1.5e-7,
  huge: 1e300,
  infinity: Infinity,
  nan: NaN,
  negativeZero: -0,
  yes: true,
  no: false,
  strings: ["stop", "length", "é"],
  ints: [1, -2, 2 ** 40],
  doubles: [0.5, 1.25],
  bools: [true, false],
  emptyArray: [],
  withHoles: ["a", null, undefined, "b"],
  long: "x".repeat(300),
  longNonAscii: "é".repeat(200),
  exactly127: "a".repeat(127),
  exactly128: "a".repeat(128),
};

describe("SpanAppender", () => {
  it("writes nothing for no spans", () => {
    expect(expectOfficialBytes([])).toHaveLength(0);
  });

  it("writes server and client spans, remote and local parents, trace state, like the official serializer", () => {
    const { tracer, spans } = recorder();
    const remote = trace.setSpanContext(context.active(), remoteParent);
    const server = tracer().startSpan(
      "process llm-provider.cmd.complete_chat",
      { kind: SpanKind.SERVER },
      remote,
    );
    server.setAttributes({ "messaging.system": "nats", "messaging.message.body.size": 312 });
    const client = tracer().startSpan(
      "chat gpt-4o-mini",
      { kind: SpanKind.CLIENT, attributes: { "server.port": 4010 } },
      trace.setSpan(remote, server),
    );
    client.setStatus({ code: SpanStatusCode.OK });
    client.end();
    server.end();
    tracer().startSpan("internal root").end();
    tracer().startSpan("producer", { kind: SpanKind.PRODUCER }).end();
    tracer().startSpan("consumer", { kind: SpanKind.CONSUMER }).end();

    const finished = spans();
    // Client: a local parent; server: the remote caller; the rest: roots.
    expect(
      finished.map((span) => [span.parentSpanContext?.spanId, span.parentSpanContext?.isRemote]),
    ).toEqual([
      [server.spanContext().spanId, undefined],
      [remoteParent.spanId, true],
      [undefined, undefined],
      [undefined, undefined],
      [undefined, undefined],
    ]);
    expectOfficialBytes(finished);
  });

  it("writes attributes of every type, events, links, statuses and exceptions like the official serializer", () => {
    const { tracer, spans } = recorder();
    const span = tracer().startSpan("every attribute", {
      kind: SpanKind.CLIENT,
      attributes: everyAttributeType,
      links: [
        { context: remoteParent, attributes: { "link.kind": "caller", "link.count": 3 } },
        { context: { ...remoteParent, spanId: "1111111111111111", isRemote: false, traceState: undefined } },
      ],
    });
    span.addEvent("no attributes");
    span.addEvent("with attributes", {
      "gen_ai.response.finish_reasons": ["stop"],
      tokens: 17,
      big: "y".repeat(200),
    });
    span.recordException(new Error("upstream answered 500 — Ünïcödé détails"));
    span.setStatus({ code: SpanStatusCode.ERROR, message: "upstream_error" });
    span.end();
    const ok = tracer().startSpan("ok");
    ok.setStatus({ code: SpanStatusCode.OK, message: "ignored by the API for OK" });
    ok.end();

    const [first] = spans();
    expect(first?.events).toHaveLength(3);
    expect(first?.links).toHaveLength(2);
    expectOfficialBytes(spans());
  });

  it("writes dropped attribute, event and link counts like the official serializer", () => {
    const { tracer, spans } = recorder(undefined, {
      attributeCountLimit: 2,
      eventCountLimit: 1,
      linkCountLimit: 1,
      attributePerEventCountLimit: 1,
      attributePerLinkCountLimit: 1,
    });
    const span = tracer().startSpan("limited", {
      attributes: { a: 1, b: 2, c: 3, d: 4 },
      links: [
        { context: remoteParent, attributes: { x: 1, y: 2 } },
        { context: remoteParent, attributes: { z: 1 } },
      ],
    });
    span.addEvent("first");
    span.addEvent("second", { p: 1, q: 2, r: 3 }); // the limit keeps the latest events
    span.end();

    const [limited] = spans();
    expect(limited?.droppedAttributesCount).toBe(2);
    expect(limited?.droppedEventsCount).toBe(1);
    expect(limited?.droppedLinksCount).toBe(1);
    expect(limited?.events[0]?.droppedAttributesCount).toBe(2);
    expectOfficialBytes(spans());
  });

  it("groups spans of two resources and three scopes like the official serializer", () => {
    const first = recorder({ "service.name": "llm-provider", "service.instance.id": "a", "process.pid": 1 });
    const second = recorder({ "service.name": "other", "deployment.environment.name": "prod" });
    const versioned = first.tracer("versioned", "1.2.3", "https://opentelemetry.io/schemas/1.37.0");
    const interleaved: ReadableSpan[] = [];
    for (let i = 0; i < 6; i++) {
      const tracer = i % 3 === 0 ? first.tracer() : i % 3 === 1 ? versioned : second.tracer();
      tracer.startSpan(`span ${i}`, { attributes: { i } }).end();
      interleaved.push(...(i % 3 === 2 ? second.spans() : first.spans()).slice(-1));
    }
    expect(new Set(interleaved.map((span) => span.resource)).size).toBe(2);
    expect(new Set(interleaved.map((span) => span.instrumentationScope)).size).toBe(3);
    expectOfficialBytes(interleaved);
  });

  it("writes a request of 1,000 spans, and one of several MiB, like the official serializer", () => {
    const { tracer, spans } = recorder();
    const parent = tracer().startSpan("parent", { kind: SpanKind.SERVER });
    const child = trace.setSpan(context.active(), parent);
    for (let i = 0; i < 999; i++) {
      tracer()
        .startSpan(
          `chat model-${i % 7}`,
          { kind: SpanKind.CLIENT, attributes: { i, "request.id": `req-${i}` } },
          child,
        )
        .end();
    }
    parent.end();
    expect(spans()).toHaveLength(1_000);
    expectOfficialBytes(spans());

    // Past 2 MiB the request's length prefix needs four bytes, and the buffer grows on the way.
    const large = recorder();
    for (let i = 0; i < 1_000; i++)
      large
        .tracer()
        .startSpan("big", { attributes: { body: `${i}`.repeat(2_500) } })
        .end();
    expect(expectOfficialBytes(large.spans()).length).toBeGreaterThan(2 ** 21);
  });

  it("keeps the output right once its caches are full", () => {
    const { tracer, spans } = recorder();
    // Past every bound: distinct names and keys, and many values for each of 100 keys.
    for (let i = 0; i < 1_500; i++) {
      const attributes = { [`key.${i}`]: `value ${i}`, [`shared.${i % 100}`]: `value ${i}`, n: i };
      tracer().startSpan(`name ${i}`, { attributes }).end();
    }
    const appender = new SpanAppender();
    const expected = official(spans());
    expect(Buffer.compare(ours(spans(), appender), expected)).toBe(0);
    expect(Buffer.compare(ours(spans(), appender), expected)).toBe(0);
  });

  it("gives different bytes for a different attribute value, also once the first is cached", () => {
    const { tracer, spans } = recorder();
    const span = (model: string): ReadableSpan[] => {
      tracer()
        .startSpan("chat", { attributes: { "gen_ai.request.model": model } })
        .end();
      return spans().slice(-1);
    };
    const mini = span("gpt-4o-mini");
    const full = span("gpt-4o");
    const miniBytes = ours(mini);
    expect(Buffer.compare(ours(full), miniBytes)).not.toBe(0);
    expect(Buffer.compare(ours(full), official(full))).toBe(0);
    expect(Buffer.compare(ours(mini), miniBytes)).toBe(0);
  });

  it("writes what the SDK never produces the way the official serializer does", () => {
    const { tracer, spans } = recorder();
    tracer("scope", "1.0.0").startSpan("template").end();
    const [template] = spans();
    if (!template) throw new Error("no span");
    const ctx = (traceId: string, spanId: string, traceFlags: number = TraceFlags.NONE): SpanContext => ({
      traceId,
      spanId,
      traceFlags,
    });
    const odd = (overrides: Partial<ReadableSpan>): ReadableSpan => ({
      name: template.name,
      kind: template.kind,
      spanContext: () => template.spanContext(),
      parentSpanContext: undefined,
      startTime: template.startTime,
      endTime: template.endTime,
      status: template.status,
      attributes: {},
      links: [],
      events: [],
      duration: template.duration,
      ended: true,
      resource: template.resource,
      instrumentationScope: template.instrumentationScope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
      ...overrides,
    });
    // Values only logs allow, or a hand-made span might carry.
    const unusual = {
      bytes: new Uint8Array([0, 1, 255]),
      nested: { model: "m", inner: { depth: 2, list: [1, "two", { three: 3 }] } },
      nothing: null,
      missing: undefined,
      loneSurrogates: "a\ud800b \udc00 \ud83d\ude80 end\ud83d",
      mixedArray: [1, "a", true, null, [2]],
    } as unknown as Attributes;
    const scopeWithAttributes = {
      name: "scoped",
      attributes: { "scope.attr": "x" },
      droppedAttributesCount: 2,
    };

    expectOfficialBytes([
      odd({ attributes: unusual }),
      odd({ spanContext: () => ctx("4BF92F3577B34DA6A3CE929D0E0E4736", "00F067AA0BA902B7", 0xff) }),
      odd({ spanContext: () => ctx("4bf92f3577b34da6a3ce929d0e0e473", "zz-not-hex!", 3), name: "" }),
      odd({ spanContext: () => ctx("", "é模"), parentSpanContext: ctx("x", "", 1) }),
      odd({ startTime: [0, 0], endTime: [18_446_744_073, 709_551_615] }),
      odd({ startTime: [2 ** 33 + 7, 999_999_999], endTime: [1_767_225_600, 123_456_789] }),
      odd({ kind: undefined }), // the official writer then leaves kind out
      odd({ status: { code: SpanStatusCode.UNSET, message: "unset with a message" } }),
      odd({ events: [{ time: [1, 2], name: "e", droppedAttributesCount: 5 }] }),
      odd({ instrumentationScope: scopeWithAttributes }),
    ]);
  });

  it("appends spans as they end; each take is the request for those since the last", () => {
    const { tracer, spans } = recorder();
    for (const [scope, name] of [
      ["a", "first"],
      ["b", "second"],
      ["a", "third"],
    ] as const)
      tracer(scope).startSpan(name).end();
    const [first, second, third] = spans();
    const appender = new SpanAppender();
    expect(appender.take()).toBeUndefined();
    appender.append(first!);
    appender.append(second!);
    expect(Buffer.compare(appender.take()!, official([first!, second!]))).toBe(0);
    // Scope b came first before; this batch has only a, then b: the order is this batch's.
    appender.append(third!);
    appender.append(second!);
    expect(Buffer.compare(appender.take()!, official([third!, second!]))).toBe(0);
    expect(appender.take()).toBeUndefined();
  });
});
