import { diag, TraceFlags } from "@opentelemetry/api";
import { ExportResultCode, globalErrorHandler } from "@opentelemetry/core";
import type { ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { SpanAppender } from "./otlp-span-serializer.js";

/** A serialized ExportTraceServiceRequest and how many spans it holds. */
export interface TraceRequest {
  request: Uint8Array;
  count: number;
}

/** Sends serialized requests: the SDK's OTLP/HTTP transport without its serializer. */
export interface TraceRequestExporter {
  export(batch: TraceRequest, done: (result: ExportResult) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The SDK's `BatchSpanProcessor` settings (`OTEL_BSP_*`), with its defaults. */
export interface BatchSettings {
  maxQueueSize?: number | undefined;
  maxExportBatchSize?: number | undefined;
  scheduledDelayMillis?: number | undefined;
  exportTimeoutMillis?: number | undefined;
}

/**
 * Ended spans wait at most this long, or until this many have ended, before they are serialized
 * together: one tight loop over a few dozen spans finds the serializer's code and caches warm,
 * where one span at a time, between requests, ran at a third of that speed (CPU profiles of
 * bench:telemetry-cost). Far below the young-generation collections' interval (hundreds of ms
 * under load), so the spans still die young.
 */
const SERIALIZE_AFTER_MS = 20;
const SERIALIZE_AFTER_SPANS = 64;

/**
 * The SDK's batch span processor, except that spans are serialized soon after they end
 * (`SpanAppender`, in small groups) and kept as bytes until exported: the span objects then die
 * young instead of outliving a few young-generation collections and being promoted (measured: the
 * garbage collector's share of telemetry's cost per request). Otherwise as the SDK's: sampled
 * spans only; an export when `maxExportBatchSize` spans are waiting or `scheduledDelayMillis`
 * after the first; one export at a time, ended after `exportTimeoutMillis`; spans beyond
 * `maxQueueSize` dropped (a warning says how many); a failed export reported to the global error
 * handler and dropped; `forceFlush` and `shutdown` export everything first.
 */
export class SerializingSpanProcessor implements SpanProcessor {
  readonly #appender = new SpanAppender();
  /** Ended, not yet serialized (see SERIALIZE_AFTER_MS). */
  #ended: ReadableSpan[] = [];
  #serializeTimer: NodeJS.Timeout | undefined;
  readonly #ready: TraceRequest[] = [];
  readonly #maxQueueSize: number;
  readonly #maxExportBatchSize: number;
  readonly #scheduledDelayMillis: number;
  readonly #exportTimeoutMillis: number;
  /** Spans taken and not yet exported (or dropped by a failed export). */
  #queued = 0;
  #dropped = 0;
  #exporting = false;
  #timer: NodeJS.Timeout | undefined;
  #idleWaiters: (() => void)[] = [];
  #shutdown: Promise<void> | undefined;

  constructor(
    private readonly exporter: TraceRequestExporter,
    settings: BatchSettings = {},
  ) {
    this.#maxQueueSize = settings.maxQueueSize ?? 2048;
    this.#maxExportBatchSize = settings.maxExportBatchSize ?? 512;
    this.#scheduledDelayMillis = settings.scheduledDelayMillis ?? 5000;
    this.#exportTimeoutMillis = settings.exportTimeoutMillis ?? 30000;
    if (this.#maxExportBatchSize > this.#maxQueueSize) {
      diag.warn("maxExportBatchSize must be smaller or equal to maxQueueSize, setting it to maxQueueSize");
      this.#maxExportBatchSize = this.#maxQueueSize;
    }
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#shutdown !== undefined) return;
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.#queued >= this.#maxQueueSize) {
      this.#dropped++;
      return;
    }
    this.#ended.push(span);
    this.#queued++;
    if (this.#ended.length >= SERIALIZE_AFTER_SPANS) {
      this.#serializeEnded();
    } else if (this.#serializeTimer === undefined) {
      this.#serializeTimer = setTimeout(() => this.#serializeEnded(), SERIALIZE_AFTER_MS);
      this.#serializeTimer.unref();
    }
    if (this.#batchSize() >= this.#maxExportBatchSize) {
      this.#seal();
      this.#exportNext();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#seal();
        this.#exportNext();
      }, this.#scheduledDelayMillis);
      this.#timer.unref();
    }
  }

  forceFlush(): Promise<void> {
    return this.#flushAll().then(() => this.exporter.forceFlush());
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#flushAll().then(() => this.exporter.shutdown());
    return this.#shutdown;
  }

  /** Resolves once every span taken so far is exported (or its export failed). */
  #flushAll(): Promise<void> {
    this.#seal();
    this.#exportNext();
    if (!this.#exporting && this.#ready.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Spans taken for the next export: serialized or waiting to be. */
  #batchSize(): number {
    return this.#appender.count + this.#ended.length;
  }

  #serializeEnded(): void {
    clearTimeout(this.#serializeTimer);
    this.#serializeTimer = undefined;
    const ended = this.#ended;
    this.#ended = [];
    for (const span of ended) this.#appender.append(span);
  }

  /** Closes the batch being written: its bytes join the ones waiting for export. */
  #seal(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#serializeEnded();
    const count = this.#appender.count;
    const request = this.#appender.take();
    if (request) this.#ready.push({ request, count });
    if (this.#dropped > 0) {
      diag.warn(`Dropped ${this.#dropped} spans because maxQueueSize reached`);
      this.#dropped = 0;
    }
  }

  #exportNext(): void {
    if (this.#exporting) return;
    const batch = this.#ready.shift();
    if (batch === undefined) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
      return;
    }
    this.#exporting = true;
    let finished = false;
    const finish = (result: ExportResult) => {
      if (finished) return;
      finished = true;
      clearTimeout(timeout);
      this.#exporting = false;
      this.#queued -= batch.count;
      if (result.code !== ExportResultCode.SUCCESS)
        globalErrorHandler(result.error ?? new Error("span export failed"));
      // Spans that ended meanwhile: a full batch leaves at once, the rest when its timer fires.
      if (this.#batchSize() >= this.#maxExportBatchSize) this.#seal();
      this.#exportNext();
    };
    const timeout = setTimeout(
      () => finish({ code: ExportResultCode.FAILED, error: new Error("Timeout") }),
      this.#exportTimeoutMillis,
    );
    timeout.unref();
    try {
      this.exporter.export(batch, finish);
    } catch (error) {
      finish({
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }
}
