import {
  context as contextApi,
  diag,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import type {
  Attributes,
  AttributeValue,
  Context,
  Exception,
  HrTime,
  Link,
  Span,
  SpanContext,
  SpanOptions,
  SpanStatus,
  TimeInput,
  Tracer,
  TracerProvider,
} from "@opentelemetry/api";
import {
  addHrTimes,
  hrTime,
  hrTimeDuration,
  isAttributeValue,
  isTimeInput,
  isTimeInputHrTime,
  isTracingSuppressed,
  millisToHrTime,
} from "@opentelemetry/core";
import type { InstrumentationScope } from "@opentelemetry/core";
import { ATTR } from "./semconv.js";
import type { Resource } from "@opentelemetry/resources";
import { AlwaysOnSampler, ParentBasedSampler, SamplingDecision } from "@opentelemetry/sdk-trace-base";
import type {
  IdGenerator,
  ReadableSpan,
  Sampler,
  SamplingResult,
  SpanLimits,
  SpanProcessor,
  TimedEvent,
} from "@opentelemetry/sdk-trace-base";

/** The SDK's defaults (`@opentelemetry/sdk-trace` TracerProvider), for limits the environment leaves unset. */
const DEFAULT_COUNT_LIMIT = 128;
const EXCEPTION_EVENT = "exception";

export interface LeanTracerProviderOptions {
  resource: Resource;
  sampler: Sampler;
  spanLimits: SpanLimits;
  idGenerator: IdGenerator;
  /** Receives every span, started and ended: the SDK's BatchSpanProcessor with the exporter. */
  spanProcessor: SpanProcessor;
}

interface Limits {
  attributeCount: number;
  /** 0 = no limit. */
  attributeValueLength: number;
  eventCount: number;
  linkCount: number;
  attributePerEventCount: number;
  attributePerLinkCount: number;
}

/**
 * A TracerProvider whose spans are plain objects handed to the SDK's span processor and exporter
 * as `ReadableSpan`s: the same spans the SDK's `TracerProvider` makes — sampling by the SDK's
 * sampler, the same ids, limits, times, status and exception rules — at a fraction of the CPU,
 * which matters at two spans per request. Where the SDK's Span spends it: sanitising the start
 * attributes twice, `Object.keys` and `hasOwnProperty` for every attribute set, validating the
 * parent's ids with regular expressions (our own spans are valid by construction), a multi-span
 * processor and self-metrics around every start and end.
 */
export class LeanTracerProvider implements TracerProvider {
  readonly #tracers = new Map<string, LeanTracer>();
  readonly #shared: SharedState;

  constructor(options: LeanTracerProviderOptions) {
    const limits = options.spanLimits;
    this.#shared = {
      resource: options.resource,
      sampler: options.sampler,
      idGenerator: options.idGenerator,
      processor: options.spanProcessor,
      limits: {
        attributeCount: limits.attributeCountLimit ?? DEFAULT_COUNT_LIMIT,
        attributeValueLength:
          limits.attributeValueLengthLimit === undefined || !Number.isFinite(limits.attributeValueLengthLimit)
            ? 0
            : limits.attributeValueLengthLimit,
        eventCount: limits.eventCountLimit ?? DEFAULT_COUNT_LIMIT,
        linkCount: limits.linkCountLimit ?? DEFAULT_COUNT_LIMIT,
        attributePerEventCount: limits.attributePerEventCountLimit ?? DEFAULT_COUNT_LIMIT,
        attributePerLinkCount: limits.attributePerLinkCountLimit ?? DEFAULT_COUNT_LIMIT,
      },
    };
  }

  getTracer(name: string, version?: string, options?: { schemaUrl?: string }): Tracer {
    const key = `${name}@${version ?? ""}:${options?.schemaUrl ?? ""}`;
    let tracer = this.#tracers.get(key);
    if (!tracer) {
      tracer = new LeanTracer({ name, version, schemaUrl: options?.schemaUrl }, this.#shared);
      this.#tracers.set(key, tracer);
    }
    return tracer;
  }

  forceFlush(): Promise<void> {
    return this.#shared.processor.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#shared.processor.shutdown();
  }
}

interface SharedState {
  resource: Resource;
  sampler: Sampler;
  idGenerator: IdGenerator;
  processor: SpanProcessor;
  limits: Limits;
}

class LeanTracer implements Tracer {
  constructor(
    private readonly scope: InstrumentationScope,
    private readonly shared: SharedState,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, context: Context = contextApi.active()): Span {
    if (options.root) context = trace.deleteSpan(context);
    if (isTracingSuppressed(context)) return trace.wrapSpanContext({ ...INVALID_CONTEXT });
    const parentSpan = trace.getSpan(context);
    const parent = parentSpan?.spanContext();
    const { idGenerator, sampler } = this.shared;
    const spanId = idGenerator.generateSpanId();
    // A parent this tracer made is valid by construction; others (remote ones) are checked.
    const validParent =
      parent !== undefined && (parentSpan instanceof LeanSpan || isSpanContextValid(parent))
        ? parent
        : undefined;
    const traceId = validParent?.traceId ?? idGenerator.generateTraceId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    const attributes = options.attributes ?? {};
    const links = options.links ?? [];
    const sampling =
      sampler === PARENT_BASED_ALWAYS_ON
        ? parentBasedAlwaysOn(validParent)
        : sampler.shouldSample(context, traceId, name, kind, attributes, links);
    const spanContext: SpanContext = {
      traceId,
      spanId,
      traceFlags:
        sampling.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE,
      traceState: sampling.traceState ?? validParent?.traceState,
    };
    if (sampling.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    const span = new LeanSpan(
      name,
      kind,
      spanContext,
      validParent,
      this.scope,
      this.shared,
      options.startTime,
    );
    for (const link of links) span.addLink(link);
    span.setAttributes(attributes);
    if (sampling.attributes) span.setAttributes(sampling.attributes);
    this.shared.processor.onStart(span, context);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    context: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = rest.length > 1 ? (rest[0] as SpanOptions) : undefined;
    const parentContext = rest.length > 2 ? (rest[1] as Context) : contextApi.active();
    const span = this.startSpan(name, options, parentContext);
    return contextApi.with(trace.setSpan(parentContext, span), () => fn(span)) as ReturnType<F>;
  }
}

/**
 * The SDK's default sampler (and `OTEL_TRACES_SAMPLER=parentbased_always_on`). Given as the
 * sampler, its decision is taken here from the parent this tracer already checked, without the
 * sampler validating the parent's ids again.
 */
export const PARENT_BASED_ALWAYS_ON: Sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });

const SAMPLED: SamplingResult = { decision: SamplingDecision.RECORD_AND_SAMPLED };
const NOT_RECORDED: SamplingResult = { decision: SamplingDecision.NOT_RECORD };

/** What PARENT_BASED_ALWAYS_ON decides: a root is sampled, a child as its (valid) parent was. */
function parentBasedAlwaysOn(parent: SpanContext | undefined): SamplingResult {
  return parent === undefined || (parent.traceFlags & TraceFlags.SAMPLED) !== 0 ? SAMPLED : NOT_RECORDED;
}

const INVALID_CONTEXT: SpanContext = {
  traceId: "00000000000000000000000000000000",
  spanId: "0000000000000000",
  traceFlags: TraceFlags.NONE,
};

/** A recording span and, once ended, the `ReadableSpan` the processor and exporter read. */
export class LeanSpan implements Span, ReadableSpan {
  /**
   * Attributes as two parallel arrays, in the order set: adding properties to an object under
   * computed keys is a slow path in V8 (most of the SDK Span's `setAttribute`). The serializer
   * reads the arrays; `attributes` is made from them for any other reader.
   */
  readonly attributeKeys: string[] = [];
  readonly attributeValues: AttributeValue[] = [];
  #attributes: Attributes | undefined;
  readonly links: Link[] = [];
  readonly events: TimedEvent[] = [];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  readonly startTime: HrTime;
  endTime: HrTime = [0, 0];
  duration: HrTime = [-1, -1];
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  readonly resource: Resource;
  readonly #startPerformance: number;
  /** Wall clock minus performance clock at the start: performance timestamps become epoch times. */
  readonly #performanceOffset: number;
  readonly #startTimeProvided: boolean;

  constructor(
    public name: string,
    readonly kind: SpanKind,
    readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    readonly instrumentationScope: InstrumentationScope,
    private readonly shared: SharedState,
    startTime: TimeInput | undefined,
  ) {
    const now = Date.now();
    this.#startPerformance = performance.now();
    this.#performanceOffset = now - (this.#startPerformance + performance.timeOrigin);
    this.#startTimeProvided = startTime != null;
    this.resource = shared.resource;
    this.startTime = this.#time(startTime ?? now);
  }

  spanContext(): SpanContext {
    return this.context;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (value == null || this.ended) return this;
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      return this;
    }
    if (
      typeof value !== "string" &&
      typeof value !== "number" &&
      typeof value !== "boolean" &&
      !isAttributeValue(value)
    ) {
      diag.warn(`Invalid attribute value set for key: ${key}`);
      return this;
    }
    const index = this.attributeKeys.indexOf(key);
    if (index >= 0) {
      this.attributeValues[index] = this.#truncated(value);
    } else if (this.attributeKeys.length >= this.shared.limits.attributeCount) {
      this.droppedAttributesCount++;
      return this;
    } else {
      this.attributeKeys.push(key);
      this.attributeValues.push(this.#truncated(value));
    }
    this.#attributes = undefined;
    return this;
  }

  get attributes(): Attributes {
    if (this.#attributes === undefined) {
      const attributes: Attributes = {};
      this.attributeKeys.forEach((key, index) => (attributes[key] = this.attributeValues[index]));
      this.#attributes = attributes;
    }
    return this.#attributes;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const { eventCount, attributePerEventCount } = this.shared.limits;
    if (makeRoom(this.events, eventCount)) this.droppedEventsCount++;
    if (eventCount === 0) return this;
    let given: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
    } else {
      given = attributesOrTime;
    }
    const { attributes, dropped } = this.#limited(given, attributePerEventCount);
    this.events.push({ name, attributes, time: this.#time(time), droppedAttributesCount: dropped });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    const { linkCount, attributePerLinkCount } = this.shared.limits;
    if (makeRoom(this.links, linkCount)) this.droppedLinksCount++;
    if (linkCount === 0) return this;
    const { attributes, dropped, count } = this.#limited(link.attributes, attributePerLinkCount);
    const kept: Link = { context: link.context };
    if (count > 0) kept.attributes = attributes;
    if (dropped > 0) kept.droppedAttributesCount = dropped;
    this.links.push(kept);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK)
      return this;
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR && typeof status.message === "string")
      next.message = status.message;
    this.status = next;
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      diag.error(
        `${this.name} ${this.context.traceId}-${this.context.spanId} - You can only call end() on a span once.`,
      );
      return;
    }
    this.endTime = this.#time(endTime);
    this.duration = hrTimeDuration(this.startTime, this.endTime);
    if (this.duration[0] < 0) {
      this.endTime = [this.startTime[0], this.startTime[1]];
      this.duration = [0, 0];
    }
    this.ended = true;
    this.shared.processor.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  /** As the SDK's Span records it: `exception.type` (the code, else the name), message and stack. */
  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === "string") {
      attributes[ATTR.exceptionMessage] = exception;
    } else if (exception) {
      if (exception.code) attributes[ATTR.exceptionType] = exception.code.toString();
      else if (exception.name) attributes[ATTR.exceptionType] = exception.name;
      if (exception.message) attributes[ATTR.exceptionMessage] = exception.message;
      if (exception.stack) attributes[ATTR.exceptionStacktrace] = exception.stack;
    }
    if (attributes[ATTR.exceptionType] || attributes[ATTR.exceptionMessage])
      this.addEvent(EXCEPTION_EVENT, attributes, time);
    else diag.warn("Failed to record an exception: it has neither a type nor a message");
  }

  /** The SDK's time rules: performance timestamps, epoch ms, Dates, HrTimes; none = start + elapsed. */
  #time(input: TimeInput | undefined): HrTime {
    if (typeof input === "number") {
      return input <= performance.now() ? hrTime(input + this.#performanceOffset) : millisToHrTime(input);
    }
    if (input instanceof Date) return millisToHrTime(input.getTime());
    if (isTimeInputHrTime(input)) return input;
    if (this.#startTimeProvided) return millisToHrTime(Date.now());
    return addHrTimes(this.startTime, millisToHrTime(performance.now() - this.#startPerformance));
  }

  #truncated(value: AttributeValue): AttributeValue {
    const limit = this.shared.limits.attributeValueLength;
    if (limit === 0) return value;
    if (typeof value === "string") return value.length > limit ? value.slice(0, limit) : value;
    if (Array.isArray(value)) {
      return (value as unknown[]).map((item) =>
        typeof item === "string" && item.length > limit ? item.slice(0, limit) : item,
      ) as AttributeValue;
    }
    return value;
  }

  /** Valid attributes, truncated, at most `limit` of them (events and links). */
  #limited(
    given: Attributes | undefined,
    limit: number,
  ): { attributes: Attributes; dropped: number; count: number } {
    const attributes: Attributes = {};
    let dropped = 0;
    let count = 0;
    for (const key in given) {
      const value = given[key];
      if (key.length === 0 || value == null || !isAttributeValue(value)) continue;
      if (count >= limit) {
        dropped++;
        continue;
      }
      attributes[key] = this.#truncated(value);
      count++;
    }
    return { attributes, dropped, count };
  }
}

/**
 * Room for one more entry under `limit`, as the SDK's Span makes it: when full the oldest goes; at
 * a limit of 0 nothing is kept, so the new entry is the one dropped. True when an entry is dropped.
 */
function makeRoom(entries: unknown[], limit: number): boolean {
  if (limit === 0) return true;
  if (entries.length < limit) return false;
  entries.shift();
  return true;
}
