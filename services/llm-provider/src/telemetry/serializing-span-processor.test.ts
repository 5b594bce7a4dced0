import { diag, DiagLogLevel, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import type { Tracer } from "@opentelemetry/api";
import { ExportResultCode, setGlobalErrorHandler } from "@opentelemetry/core";
import type { ExportResult } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { SerializingSpanProcessor } from "./serializing-span-processor.js";
import type { BatchSettings, TraceRequest, TraceRequestExporter } from "./serializing-span-processor.js";

/** Records each request; answers at once unless told to hold or fail. */
class FakeExporter implements TraceRequestExporter {
  readonly requests: TraceRequest[] = [];
  readonly pending: ((result: ExportResult) => void)[] = [];
  hold = false;
  fail = false;
  shutDown = false;

  export(batch: TraceRequest, done: (result: ExportResult) => void): void {
    this.requests.push(batch);
    if (this.hold) this.pending.push(done);
    else done(this.fail ? { code: ExportResultCode.FAILED, error: new Error("receiver down") } : { code: 0 });
  }
  forceFlush = () => Promise.resolve();
  shutdown = () => {
    this.shutDown = true;
    return Promise.resolve();
  };
}

/** A provider whose spans go to the processor and, for comparison, to an in-memory exporter. */
function setup(settings: BatchSettings) {
  const exporter = new FakeExporter();
  const processor = new SerializingSpanProcessor(exporter, settings);
  const finished = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "processor-test" }),
    spanProcessors: [processor, new SimpleSpanProcessor(finished)],
  });
  const tracer = provider.getTracer("llm-provider");
  return { exporter, processor, finished, tracer };
}

function endSpans(tracer: Tracer, count: number, prefix = "span"): void {
  for (let index = 0; index < count; index++) tracer.startSpan(`${prefix}-${index}`).end();
}

const ignore = () => undefined;
const silentLogger = { error: ignore, warn: ignore, info: ignore, debug: ignore, verbose: ignore };

const official = (spans: ReadableSpan[]) => Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(() => setGlobalErrorHandler(() => undefined));

describe("SerializingSpanProcessor", () => {
  it("exports a full batch at once, as the official serializer would write those spans", () => {
    const { exporter, finished, tracer } = setup({ maxExportBatchSize: 3, scheduledDelayMillis: 60_000 });
    endSpans(tracer, 7);
    const spans = finished.getFinishedSpans();
    expect(exporter.requests.map((batch) => batch.count)).toEqual([3, 3]);
    expect(Buffer.from(exporter.requests[0]!.request)).toEqual(official(spans.slice(0, 3)));
    expect(Buffer.from(exporter.requests[1]!.request)).toEqual(official(spans.slice(3, 6)));
  });

  it("serializes spans in groups as they end, in order, across batch and group boundaries", async () => {
    // 200 spans: three full groups of 64 and a rest that waits for the group timer, exported in
    // batches of 150 that cut a group in two.
    const { exporter, processor, finished, tracer } = setup({
      maxExportBatchSize: 150,
      scheduledDelayMillis: 60_000,
    });
    endSpans(tracer, 140);
    await sleep(30); // the 12 spans after the second group are serialized by the group timer
    endSpans(tracer, 60, "later");
    expect(exporter.requests.map((batch) => batch.count)).toEqual([150]);
    const spans = finished.getFinishedSpans();
    expect(Buffer.from(exporter.requests[0]!.request)).toEqual(official(spans.slice(0, 150)));
    await sleep(30);
    expect(exporter.requests).toHaveLength(1); // the rest waits for the schedule delay, not the group timer
    await processor.forceFlush();
    expect(exporter.requests.map((batch) => batch.count)).toEqual([150, 50]);
    expect(Buffer.from(exporter.requests[1]!.request)).toEqual(official(spans.slice(150)));
  });

  it("exports what waits once the schedule delay has passed since the first", async () => {
    const { exporter, finished, tracer } = setup({ scheduledDelayMillis: 30 });
    endSpans(tracer, 2);
    await sleep(10);
    expect(exporter.requests).toHaveLength(0);
    await sleep(60);
    expect(exporter.requests.map((batch) => batch.count)).toEqual([2]);
    expect(Buffer.from(exporter.requests[0]!.request)).toEqual(official(finished.getFinishedSpans()));
  });

  it("keeps one export at a time and drops spans beyond the queue size", async () => {
    const warnings: string[] = [];
    diag.setLogger(
      { ...silentLogger, warn: (message: string) => void warnings.push(message) },
      DiagLogLevel.WARN,
    );
    const { exporter, tracer } = setup({
      maxQueueSize: 4,
      maxExportBatchSize: 2,
      scheduledDelayMillis: 60_000,
    });
    exporter.hold = true;
    endSpans(tracer, 6); // 2 exporting, 2 waiting, 2 dropped
    expect(exporter.requests.map((batch) => batch.count)).toEqual([2]);
    exporter.pending.shift()!({ code: ExportResultCode.SUCCESS });
    expect(exporter.requests.map((batch) => batch.count)).toEqual([2, 2]);
    exporter.pending.shift()!({ code: ExportResultCode.SUCCESS });
    endSpans(tracer, 2, "later"); // room again
    expect(exporter.requests.map((batch) => batch.count)).toEqual([2, 2, 2]);
    expect(warnings).toEqual(["Dropped 2 spans because maxQueueSize reached"]);
    exporter.pending.shift()!({ code: ExportResultCode.SUCCESS });
    await sleep(1);
    diag.disable();
  });

  it("skips spans that are not sampled", () => {
    const { exporter, tracer } = setup({ maxExportBatchSize: 1 });
    const unsampled = trace.wrapSpanContext({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: TraceFlags.NONE,
    });
    tracer.startSpan("child of unsampled", {}, trace.setSpan(ROOT_CONTEXT, unsampled)).end();
    expect(exporter.requests).toHaveLength(0);
    tracer.startSpan("sampled").end();
    expect(exporter.requests).toHaveLength(1);
  });

  it("reports a failed export to the global error handler and goes on", () => {
    const errors: unknown[] = [];
    setGlobalErrorHandler((error) => errors.push(error));
    const { exporter, tracer } = setup({ maxExportBatchSize: 1 });
    exporter.fail = true;
    endSpans(tracer, 1);
    exporter.fail = false;
    endSpans(tracer, 1);
    expect(exporter.requests).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain("receiver down");
  });

  it("ends an export that never answers after the export timeout", async () => {
    const errors: unknown[] = [];
    setGlobalErrorHandler((error) => errors.push(error));
    const { exporter, tracer } = setup({ maxExportBatchSize: 1, exportTimeoutMillis: 20 });
    exporter.hold = true;
    endSpans(tracer, 2);
    expect(exporter.requests).toHaveLength(1);
    await sleep(60);
    expect(exporter.requests).toHaveLength(2); // the second went out after the first timed out
    expect(String(errors[0])).toContain("Timeout");
  });

  it("flushes everything on forceFlush and shutdown, and takes nothing after shutdown", async () => {
    const { exporter, processor, tracer } = setup({ maxExportBatchSize: 10, scheduledDelayMillis: 60_000 });
    endSpans(tracer, 3);
    await processor.forceFlush();
    expect(exporter.requests.map((batch) => batch.count)).toEqual([3]);
    endSpans(tracer, 2);
    await processor.shutdown();
    expect(exporter.requests.map((batch) => batch.count)).toEqual([3, 2]);
    expect(exporter.shutDown).toBe(true);
    endSpans(tracer, 1);
    await processor.forceFlush();
    expect(exporter.requests).toHaveLength(2);
  });
});
