import { context, metrics, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import type { Histogram, SumMetricData } from "@opentelemetry/sdk-metrics";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { POLICY_GATEWAY_SUBJECT, SUBJECTS } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { waitForEvents } from "../support/events.js";
import { SINGLE_ACCOUNT_PRODUCTION, startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";
import {
  OPERATION_DURATION_BOUNDARIES,
  TOKEN_USAGE_BOUNDARIES,
} from "../../services/llm-provider/src/telemetry/instruments.js";
import { SynchronousContextManager } from "../../services/llm-provider/src/infra/telemetry/synchronous-context-manager.js";
import { until } from "../support/until.js";

// Global SDK pieces, installed before the service starts (each test file runs in its own process):
// the SDK's tracer provider and meter provider, with in-memory exporters in place of OTLP.
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const metricReader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
// What the service installs: trace context is handed on explicitly, nothing follows an `await`.
context.setGlobalContextManager(new SynchronousContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(
  new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "llm-provider-test" }),
    spanProcessors: [new SimpleSpanProcessor(spans)],
  }),
);
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [metricReader] }));

let nats: NatsServerHandle;
let primary: FakeOpenAIServer;
let secondary: FakeOpenAIServer;
let service: TestService;
const gatewayTraceparents: string[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  primary = await startFakeOpenAIServer();
  secondary = await startFakeOpenAIServer();
  service = await startTestService({
    ...testConfig(nats.url, [primary.baseUrl, secondary.baseUrl], {
      fallback_chains: [{ id: "chain", models: ["model-0", "model-1"] }],
    }),
    ...SINGLE_ACCOUNT_PRODUCTION,
    policy_gateway: { bypass: false },
  });
  service.nc.subscribe(POLICY_GATEWAY_SUBJECT, {
    callback: (_error, msg) => {
      gatewayTraceparents.push(msg.headers?.get("traceparent") ?? "");
      msg.respond(JSON.stringify({ decision: "allow" }));
    },
  });
  await service.nc.flush();
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([primary?.close(), secondary?.close()]);
  await nats?.stop();
});

beforeEach(() => {
  spans.reset();
  primary.reset();
  secondary.reset();
  gatewayTraceparents.length = 0;
});

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const callerSpanId = "00f067aa0ba902b7";
const traceparent = `00-${traceId}-${callerSpanId}-01`;
const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello" }], max_tokens: 50 };

/** Spans end after the reply is sent; wait until the server span is there. */
async function finishedSpans(count: number): Promise<ReadableSpan[]> {
  await until(`${count} finished spans`, () => spans.getFinishedSpans().length >= count);
  return spans.getFinishedSpans();
}

describe("traces", () => {
  it("a SERVER span continues the caller's trace, with a GenAI CLIENT span per upstream attempt under it", async () => {
    primary.setChatReply({ content: "Hi", usage: { prompt_tokens: 1_000, completion_tokens: 10 } });
    await service.client.completeChat(hello, { requestId: "trace-1", headers: { traceparent } });
    const finished = await finishedSpans(2);
    const server = finished.find((span) => span.kind === SpanKind.SERVER)!;
    const client = finished.find((span) => span.kind === SpanKind.CLIENT)!;

    expect(server.name).toBe(`process ${SUBJECTS.completeChat}`);
    expect(server.spanContext().traceId).toBe(traceId);
    expect(server.parentSpanContext?.spanId).toBe(callerSpanId);
    expect(server.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.destination.name": SUBJECTS.completeChat,
      "messaging.operation.type": "process",
      "messaging.consumer.group.name": "llm-provider",
      "llm_provider.request_id": "trace-1",
      "llm_provider.model": "model-0",
      "llm_provider.provider_id": "p0",
      "llm_provider.cost_usd": 0.0021, // 1000 × $2/M + 10 × $10/M
      "llm_provider.attempts": 1,
    });
    expect(server.status.code).toBe(SpanStatusCode.UNSET);

    expect(client.name).toBe("chat upstream-model-0");
    expect(client.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(client.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "upstream-model-0",
      "gen_ai.request.max_tokens": 50,
      "gen_ai.response.model": "upstream-model-0",
      "gen_ai.response.finish_reasons": ["stop"],
      "gen_ai.usage.input_tokens": 1_000,
      "gen_ai.usage.output_tokens": 10,
      "server.address": "127.0.0.1",
      "llm_provider.provider_id": "p0",
    });
    expect(client.attributes["gen_ai.response.id"]).toMatch(/^chatcmpl-/);
  });

  it("propagates the trace to the Policy Gateway and into the domain event", async () => {
    await service.client.completeChat(hello, { requestId: "trace-2", headers: { traceparent } });
    expect(gatewayTraceparents).toHaveLength(1);
    expect(gatewayTraceparents[0]).toContain(traceId);
    const [stored] = await waitForEvents(service.nc, (events) =>
      events.some((event) => event.event.request_id === "trace-2"),
    ).then((events) => events.filter((event) => event.event.request_id === "trace-2"));
    const finished = await finishedSpans(2);
    const server = finished.find((span) => span.kind === SpanKind.SERVER)!;
    // The event points at our SERVER span, in the caller's trace.
    expect(stored!.event.traceparent).toBe(`00-${traceId}-${server.spanContext().spanId}-01`);
  });

  it("a failed attempt is an error span with error.type; the fallback attempt is its sibling", async () => {
    // An overloaded provider is retried once (retries.overloaded), then the chain moves on.
    primary.enqueue({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    const completion = await service.client.completeChat(hello, { headers: { traceparent } });
    expect(completion.provider_id).toBe("p1");
    const finished = await finishedSpans(4);
    const clients = finished.filter((span) => span.kind === SpanKind.CLIENT);
    expect(clients.map((span) => span.name)).toEqual([
      "chat upstream-model-0",
      "chat upstream-model-0",
      "chat upstream-model-1",
    ]);
    const failed = clients[0]!;
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes["error.type"]).toBe("overloaded");
    expect(failed.events.some((event) => event.name === "exception")).toBe(true);
    const server = finished.find((span) => span.kind === SpanKind.SERVER)!;
    expect(new Set(clients.map((span) => span.parentSpanContext?.spanId))).toEqual(
      new Set([server.spanContext().spanId]),
    );
    expect(server.attributes["llm_provider.attempts"]).toBe(3);
  });

  it("an error reply marks the SERVER span with the error code", async () => {
    await service.client.completeChat({ ...hello, model: "nope" }).catch(() => undefined);
    const [server] = await finishedSpans(1);
    expect(server!.kind).toBe(SpanKind.SERVER);
    expect(server!.status.code).toBe(SpanStatusCode.ERROR);
    expect(server!.attributes["error.type"]).toBe("unknown_model");
  });
});

describe("metrics", () => {
  it("records GenAI token usage and duration, cost, retries, fallbacks, in-flight and event queue depth", async () => {
    primary.setChatReply({ content: "Hi", usage: { prompt_tokens: 100, completion_tokens: 7 } });
    await service.client.completeChat(hello);
    await metricReader.forceFlush();
    const exported = metricExporter.getMetrics();
    const all = exported.flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics));
    const byName = (name: string) => all.filter((metric) => metric.descriptor.name === name).at(-1);

    const tokens = byName("gen_ai.client.token.usage")!;
    const input = tokens.dataPoints.find(
      (point) =>
        point.attributes["gen_ai.token.type"] === "input" &&
        point.attributes["gen_ai.request.model"] === "upstream-model-0",
    )!;
    expect(input.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
    });
    expect(tokens.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(tokens.descriptor.unit).toBe("{token}");
    const inputHistogram = input.value as Histogram;
    expect(inputHistogram.sum).toBeGreaterThanOrEqual(100);
    expect(inputHistogram.buckets.boundaries).toEqual(TOKEN_USAGE_BOUNDARIES);
    const output = tokens.dataPoints.find(
      (point) =>
        point.attributes["gen_ai.token.type"] === "output" &&
        point.attributes["gen_ai.request.model"] === "upstream-model-0",
    )!;
    expect((output.value as { sum: number }).sum).toBeGreaterThanOrEqual(7);
    const duration = byName("gen_ai.client.operation.duration")!;
    expect(duration.descriptor.unit).toBe("s");
    expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect((duration.dataPoints[0]!.value as Histogram).buckets.boundaries).toEqual(
      OPERATION_DURATION_BOUNDARIES,
    );
    expect(duration.dataPoints.some((point) => point.attributes["error.type"] !== undefined)).toBe(true); // the failed attempt of the fallback test
    // The exported cost grows by exactly what the reply says the request cost.
    const costOf = (metricList: typeof all) => {
      const cost = metricList.filter((metric) => metric.descriptor.name === "llm_provider.cost").at(-1)!;
      expect(cost.dataPointType).toBe(DataPointType.SUM);
      expect((cost as SumMetricData).isMonotonic).toBe(true);
      return cost.dataPoints
        .filter((point) => point.attributes["llm_provider.model"] === hello.model)
        .reduce((sum, point) => sum + (point.value as number), 0);
    };
    const before = costOf(all);
    const second = await service.client.completeChat(hello);
    await metricReader.forceFlush();
    const allAfter = metricExporter
      .getMetrics()
      .flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics));
    expect(second.usage.cost.total).toBeGreaterThan(0);
    expect(costOf(allAfter) - before).toBeCloseTo(second.usage.cost.total, 12);
    expect(byName("llm_provider.retries")).toBeDefined(); // from the fallback test above
    expect(byName("llm_provider.fallbacks")).toBeDefined();
    expect(byName("llm_provider.requests.in_flight")).toBeDefined();
    expect(byName("llm_provider.events.queue_depth")).toBeDefined();
    expect(byName("llm_provider.circuit_breaker.state")!.dataPoints[0]!.value).toBe(0);
  });
});
