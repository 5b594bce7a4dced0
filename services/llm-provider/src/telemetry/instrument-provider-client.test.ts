import { metrics, trace } from "@opentelemetry/api";
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import type { ProviderSpec } from "../domain/catalog.js";
import type { ChatCall, ChatOutcome, ChatStreamPart, ProviderClient } from "../ports/provider-client.js";
import { instrumentProviderClient } from "./instrument-provider-client.js";

// This file's process owns the global providers: installed before the first instrument is made.
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

const PROVIDER = {
  id: "anthropic",
  provider_type: "anthropic",
  endpoint: "https://api.anthropic.com",
} as ProviderSpec;

const END: Omit<ChatOutcome, "content"> = {
  upstreamId: "msg_01",
  responseModel: "claude-sonnet-5",
  finishReason: "stop",
  rawFinishReason: "end_turn",
  usage: {
    promptTokens: 1_200,
    completionTokens: 300,
    cacheReadTokens: 1_000,
    cacheWriteTokens: 100,
    reasoningTokens: 120,
  },
  warnings: [],
};

const client: ProviderClient = {
  providerId: "anthropic",
  completeChat: () => Promise.resolve({ ...END, content: "Hi" }),
  async *streamChat(): AsyncGenerator<ChatStreamPart> {
    await Promise.resolve();
    yield { type: "delta", delta: { reasoning: "Thinking…" } };
    yield { type: "delta", delta: { content: "Hi" } };
    yield { type: "end", end: END };
  },
};

const call: ChatCall = {
  upstreamModel: "claude-sonnet-5",
  modelMaxTokens: 4_096,
  request: {
    model: "claude",
    messages: [{ role: "user", content: "Hi" }],
    max_completion_tokens: 512,
    top_p: 0.9,
    stop: "END",
    response_format: { type: "json_object" },
  },
  signal: new AbortController().signal,
};

describe("instrumentProviderClient: GenAI attributes of what #21 adds", () => {
  it("puts request settings, stream flag, cache and reasoning tokens on a chat span", async () => {
    spans.reset();
    await instrumentProviderClient(client, PROVIDER).completeChat(call);
    const [span] = spans.getFinishedSpans();
    expect(span?.attributes).toMatchObject({
      "gen_ai.request.stream": false,
      "gen_ai.request.max_tokens": 512,
      "gen_ai.request.top_p": 0.9,
      "gen_ai.request.stop_sequences": ["END"],
      "gen_ai.output.type": "json",
      "gen_ai.usage.input_tokens": 1_200,
      "gen_ai.usage.output_tokens": 300,
      "gen_ai.usage.cache_read.input_tokens": 1_000,
      "gen_ai.usage.cache_creation.input_tokens": 100,
      "gen_ai.usage.reasoning.output_tokens": 120,
    });
  });

  it("records a streamed call's time to first chunk on the span and as the metric", async () => {
    spans.reset();
    const parts: ChatStreamPart[] = [];
    for await (const part of instrumentProviderClient(client, PROVIDER).streamChat!(call)) parts.push(part);
    expect(parts.map((part) => part.type)).toEqual(["delta", "delta", "end"]);
    const [span] = spans.getFinishedSpans();
    expect(span?.attributes["gen_ai.request.stream"]).toBe(true);
    expect(span?.attributes["gen_ai.response.time_to_first_chunk"]).toBeGreaterThan(0);

    await reader.forceFlush();
    const metric = metricExporter
      .getMetrics()
      .flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics))
      .find((item) => item.descriptor.name === "gen_ai.client.operation.time_to_first_chunk");
    expect(metric?.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(metric?.dataPoints[0]?.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-sonnet-5",
    });
  });
});
