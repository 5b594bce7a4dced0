// Benchmark of the OTLP span serializer — run on its own (never part of `npm test`/CI):
//   node --import tsx --conditions=source test/bench/otlp-span-serializer.ts
//
// Serializes one export batch of 512 spans like the service's (a SERVER span per NATS request and
// its CLIENT child for the upstream chat call) with the official `ProtobufTraceSerializer` and
// with `SpanAppender` (each span appended, then the request taken), alternating rounds after a warm-up, checks the bytes are the
// same, and prints µs per span for each and the speed-up.
// Environment: BENCH_ROUNDS, BENCH_ITERATIONS (serializations per serializer per round).
import { randomUUID } from "node:crypto";
import { context, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  RandomIdGenerator,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { SpanAppender } from "../../services/llm-provider/src/telemetry/otlp-span-serializer.js";

const REQUESTS = 256; // two spans each
const WARMUP_ITERATIONS = 300;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 100);

function buildSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      "service.name": "llm-provider",
      "service.version": "0.1.0",
      "service.instance.id": randomUUID(),
      "deployment.environment.name": "production",
      "telemetry.sdk.language": "nodejs",
      "telemetry.sdk.name": "opentelemetry",
      "telemetry.sdk.version": "2.12.0",
      "host.name": "llm-provider-7c9f8d6b5-x2x4k",
      "process.pid": 1,
      "process.runtime.name": "nodejs",
      "process.runtime.version": "20.20.2",
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer("llm-provider");
  const ids = new RandomIdGenerator();
  for (let i = 0; i < REQUESTS; i++) {
    // The caller's trace context arrives in the NATS headers: a remote parent.
    const caller = trace.setSpanContext(context.active(), {
      traceId: ids.generateTraceId(),
      spanId: ids.generateSpanId(),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const server = tracer.startSpan(
      "process llm-provider.cmd.complete_chat",
      {
        kind: SpanKind.SERVER,
        attributes: {
          "messaging.system": "nats",
          "messaging.destination.name": "llm-provider.cmd.complete_chat",
          "messaging.operation.type": "process",
          "messaging.operation.name": "process",
          "messaging.consumer.group.name": "llm-provider",
        },
      },
      caller,
    );
    server.setAttribute("messaging.message.body.size", 312);
    server.setAttribute("llm_provider.request_id", randomUUID());
    const client = tracer.startSpan(
      "chat gpt-4o-mini",
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "gpt-4o-mini",
          "server.address": "127.0.0.1",
          "server.port": 4010,
          "llm_provider.provider_id": "openai-primary",
          "gen_ai.request.max_tokens": 256,
          "gen_ai.request.temperature": 0.2,
        },
      },
      trace.setSpan(caller, server),
    );
    client.setAttributes({
      "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
      "gen_ai.response.finish_reasons": ["stop"],
      "gen_ai.response.id": `chatcmpl-${randomUUID().replaceAll("-", "").slice(0, 24)}`,
      "gen_ai.usage.input_tokens": 42,
      "gen_ai.usage.output_tokens": 17,
    });
    client.setStatus({ code: SpanStatusCode.OK });
    client.end();
    server.setAttributes({
      "gen_ai.request.model": "gpt-4o-mini",
      "llm_provider.provider_id": "openai-primary",
      "llm_provider.cost_usd": 0.0000165 + i * 1e-9,
      "llm_provider.attempts": 1,
    });
    server.end();
  }
  // The exporter's batch order: children end first.
  return exporter.getFinishedSpans();
}

function timeMicros(
  serialize: (spans: ReadableSpan[]) => Uint8Array | undefined,
  spans: ReadableSpan[],
): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) serialize(spans);
  return Number(process.hrtime.bigint() - started) / 1000;
}

const spans = buildSpans();
const ours = new SpanAppender();
const official = (batch: ReadableSpan[]) => ProtobufTraceSerializer.serializeRequest(batch);
const fast = (batch: ReadableSpan[]) => {
  for (const span of batch) ours.append(span);
  return ours.take();
};

const expected = official(spans);
const actual = fast(spans);
if (!expected || !actual || Buffer.compare(expected, actual) !== 0) {
  throw new Error("the two serializers disagree on the benchmark batch");
}
console.log(
  `${spans.length} spans, ${expected.length} bytes per request (${(expected.length / spans.length).toFixed(0)} B/span)`,
);

for (let i = 0; i < WARMUP_ITERATIONS; i++) {
  official(spans);
  fast(spans);
}

let officialMicros = 0;
let oursMicros = 0;
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so neither always runs right after a GC of the other's garbage.
  if (round % 2 === 0) {
    officialMicros += timeMicros(official, spans);
    oursMicros += timeMicros(fast, spans);
  } else {
    oursMicros += timeMicros(fast, spans);
    officialMicros += timeMicros(official, spans);
  }
}

const perSpan = (micros: number) => micros / (ROUNDS * ITERATIONS * spans.length);
console.log(`official ProtobufTraceSerializer: ${perSpan(officialMicros).toFixed(3)} µs/span`);
console.log(`SpanAppender:                     ${perSpan(oursMicros).toFixed(3)} µs/span`);
console.log(`speed-up: ${(officialMicros / oursMicros).toFixed(2)}×`);
