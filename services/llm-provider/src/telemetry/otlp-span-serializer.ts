import type { Attributes, AttributeValue, HrTime, Link, SpanContext, SpanStatus } from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import { LeanSpan } from "./lean-tracer.js";

/** What the official serializer reads from a scope, beyond the core type. */
type Scope = InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number };

const INITIAL_CAPACITY = 64 * 1024;
/** A buffer grown past this by one huge request is dropped afterwards rather than kept for good. */
const MAX_RETAINED_CAPACITY = 8 * 1024 * 1024;
/**
 * Cache bounds. Past them nothing new is cached: new entries are simply encoded every time. Keys,
 * names and most attribute values repeat from span to span (subject, model, provider…); the values
 * of a key that keeps changing (request id, cost) stop being cached after a few.
 */
const CACHED_STRINGS = 1024;
const CACHED_KEYS = 1024;
const CACHED_KEY_VALUES = 2048;
const CACHED_VALUES_PER_KEY = 32;
/** Longer strings (prompts, errors, stack traces) are rarely repeated: not worth an entry. */
const CACHED_STRING_MAX_LENGTH = 64;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;
const NANOS_PER_SECOND = 1_000_000_000;
/** `hexToBinary`'s digit values for ASCII, including what it makes of non-hex characters. */
const HEX_DIGITS = Int8Array.from({ length: 0x80 }, (_, c) =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c - 55,
);

class SpanWriter {
  private buf: Buffer = Buffer.allocUnsafeSlow(INITIAL_CAPACITY);
  private view: DataView = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private pos = 0;
  /** String → varint length + UTF-8 bytes, for attribute keys and names. */
  private readonly strings = new Map<string, Uint8Array>();
  /** Attribute key → primitive value → the whole encoded KeyValue, length prefix included. */
  private readonly keyValues = new Map<string, Map<CacheableValue, Uint8Array>>();
  private cachedKeyValues = 0;

  /** The request around spans written earlier by other writers, grouped by resource then scope. */
  request(written: Map<Resource, Map<Scope, SpanWriter>>): Uint8Array {
    this.pos = 0;
    for (const [resource, scopes] of written) this.resourceSpans(resource, scopes);
    return this.take();
  }

  /** Appends one span's `ScopeSpans.spans` field, as it stands inside its scope's message. */
  appendSpan(span: ReadableSpan): void {
    this.span(span);
  }

  /** A copy of what was written (the buffer is reused), from the start. */
  take(): Uint8Array {
    const out = new Uint8Array(this.buf.subarray(0, this.pos));
    this.clear();
    return out;
  }

  private clear(): void {
    this.pos = 0;
    if (this.buf.length > MAX_RETAINED_CAPACITY) this.setBuffer(Buffer.allocUnsafeSlow(INITIAL_CAPACITY));
  }

  // --- messages, in the official field order ---

  private resourceSpans(resource: Resource, scopes: Map<Scope, SpanWriter>): void {
    this.ensure(16);
    this.buf[this.pos++] = 0x0a; // ExportTraceServiceRequest.resource_spans
    const start = this.reserve(3);
    this.buf[this.pos++] = 0x0a; // ResourceSpans.resource
    const resourceStart = this.reserve(2);
    if (resource.attributes) this.attributes(resource.attributes, 0x0a);
    this.ensure(2);
    this.buf[this.pos++] = 0x10; // Resource.dropped_attributes_count, always 0
    this.buf[this.pos++] = 0;
    this.finish(resourceStart, 2);
    for (const [scope, spans] of scopes) this.scopeSpans(scope, spans);
    if (resource.schemaUrl) this.stringField(0x1a, resource.schemaUrl);
    this.finish(start, 3);
  }

  private scopeSpans(scope: Scope, spans: SpanWriter): void {
    this.ensure(16);
    this.buf[this.pos++] = 0x12; // ResourceSpans.scope_spans
    const start = this.reserve(3);
    this.buf[this.pos++] = 0x0a; // ScopeSpans.scope
    const scopeStart = this.reserve(1);
    this.cachedStringField(0x0a, scope.name);
    if (scope.version) this.cachedStringField(0x12, scope.version);
    if (scope.attributes) this.attributes(scope.attributes, 0x1a);
    if (scope.droppedAttributesCount) this.varintField(0x20, scope.droppedAttributesCount);
    this.finish(scopeStart, 1);
    // The spans' bytes straight from their writer, which starts over for the next batch.
    this.bytes(spans.buf.subarray(0, spans.pos));
    spans.clear();
    if (scope.schemaUrl) this.stringField(0x1a, scope.schemaUrl);
    this.finish(start, 3);
  }

  private span(span: ReadableSpan): void {
    const ctx = span.spanContext();
    const parent = span.parentSpanContext;
    this.ensure(64);
    this.buf[this.pos++] = 0x12; // ScopeSpans.spans
    const start = this.reserve(2); // most spans are 128 B to 16 KiB
    this.hexField(0x0a, ctx.traceId);
    this.hexField(0x12, ctx.spanId);
    const traceState = ctx.traceState?.serialize();
    if (traceState) this.stringField(0x1a, traceState);
    if (parent?.spanId) this.hexField(0x22, parent.spanId);
    this.cachedStringField(0x2a, span.name);
    // SpanKind is offset by one: OTLP has SPAN_KIND_UNSPECIFIED = 0.
    const kind = span.kind == null ? 0 : span.kind + 1;
    if (kind !== 0) this.varintField(0x30, kind);
    this.hrTimeField(0x39, span.startTime);
    this.hrTimeField(0x41, span.endTime);
    if (span instanceof LeanSpan) {
      const { attributeKeys: keys, attributeValues: values } = span;
      for (let index = 0; index < keys.length; index++) this.attribute(keys[index]!, values[index], 0x4a);
    } else if (span.attributes) {
      this.attributes(span.attributes, 0x4a);
    }
    this.varintField(0x50, span.droppedAttributesCount);
    for (const event of span.events) this.event(event);
    this.varintField(0x60, span.droppedEventsCount);
    for (const link of span.links) this.link(link);
    this.varintField(0x70, span.droppedLinksCount);
    this.status(span.status);
    this.ensure(6);
    this.buf[this.pos++] = 0x85; // Span.flags: field 16, fixed32 — a two-byte tag
    this.buf[this.pos++] = 0x01;
    this.fixed32(spanFlags(ctx, parent?.isRemote));
    this.finish(start, 2);
  }

  private event(event: TimedEvent): void {
    this.ensure(16);
    this.buf[this.pos++] = 0x5a; // Span.events
    const start = this.reserve(1);
    this.hrTimeField(0x09, event.time);
    this.cachedStringField(0x12, event.name);
    if (event.attributes) this.attributes(event.attributes, 0x1a);
    this.varintField(0x20, event.droppedAttributesCount || 0);
    this.finish(start, 1);
  }

  private link(link: Link): void {
    const ctx = link.context;
    this.ensure(16);
    this.buf[this.pos++] = 0x6a; // Span.links
    const start = this.reserve(1);
    this.hexField(0x0a, ctx.traceId);
    this.hexField(0x12, ctx.spanId);
    const traceState = ctx.traceState?.serialize();
    if (traceState) this.stringField(0x1a, traceState);
    if (link.attributes) this.attributes(link.attributes, 0x22);
    this.varintField(0x28, link.droppedAttributesCount || 0);
    this.ensure(5);
    this.buf[this.pos++] = 0x35; // Link.flags (fixed32)
    this.fixed32(spanFlags(ctx, ctx.isRemote));
    this.finish(start, 1);
  }

  private status(status: SpanStatus): void {
    this.ensure(16);
    this.buf[this.pos++] = 0x7a; // Span.status
    const start = this.reserve(1);
    if (status.message) this.stringField(0x12, status.message);
    this.varintField(0x18, status.code); // always written, even UNSET
    this.finish(start, 1);
  }

  /**
   * Repeated KeyValue under the given one-byte tag, in `for…in` order like the official writer.
   * Most pairs recur whole from span to span (subject, model, port…): those are one copy of the
   * KeyValue cached the first time, which is where most of the speed-up comes from.
   */
  private attributes(attributes: Attributes, tag: number): void {
    for (const key in attributes) {
      if (Object.prototype.hasOwnProperty.call(attributes, key)) this.attribute(key, attributes[key], tag);
    }
  }

  private attribute(key: string, value: AttributeValue | undefined, tag: number): void {
    this.ensure(1);
    this.buf[this.pos++] = tag;
    if (!isCacheable(value)) {
      this.keyValue(key, value);
      return;
    }
    let values = this.keyValues.get(key);
    const cached = values?.get(value);
    if (cached !== undefined) {
      this.bytes(cached);
      return;
    }
    const start = this.pos;
    this.keyValue(key, value);
    if (values === undefined) {
      if (this.keyValues.size >= CACHED_KEYS) return;
      this.keyValues.set(key, (values = new Map<CacheableValue, Uint8Array>()));
    }
    if (values.size < CACHED_VALUES_PER_KEY && this.cachedKeyValues < CACHED_KEY_VALUES) {
      values.set(value, new Uint8Array(this.buf.subarray(start, this.pos)));
      this.cachedKeyValues++;
    }
  }

  /** A length-prefixed KeyValue (the caller wrote its tag). */
  private keyValue(key: string, value: unknown): void {
    const start = this.reserve(1);
    this.cachedStringField(0x0a, key);
    this.ensure(2);
    this.buf[this.pos++] = 0x12; // KeyValue.value
    const valueStart = this.reserve(1);
    this.anyValue(value);
    this.finish(valueStart, 1);
    this.finish(start, 1);
  }

  /** AnyValue's fields (the caller wrote the tag and reserved the length), as `writeAnyValue` does. */
  private anyValue(value: unknown): void {
    if (typeof value === "string") {
      this.stringField(0x0a, value);
    } else if (typeof value === "boolean") {
      this.ensure(2);
      this.buf[this.pos++] = 0x10;
      this.buf[this.pos++] = value ? 1 : 0;
    } else if (typeof value === "number") {
      // int_value whenever the number is an integer in int64 range, even past 2^53.
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        this.varintField(0x18, value);
      } else {
        this.ensure(9);
        this.buf[this.pos++] = 0x21;
        this.view.setFloat64(this.pos, value, true);
        this.pos += 8;
      }
    } else if (value instanceof Uint8Array) {
      this.ensure(11 + value.length);
      this.buf[this.pos++] = 0x3a;
      this.varint(value.length);
      this.buf.set(value, this.pos);
      this.pos += value.length;
    } else if (Array.isArray(value)) {
      this.ensure(4);
      this.buf[this.pos++] = 0x2a; // AnyValue.array_value
      const start = this.reserve(1);
      for (const item of value as unknown[]) {
        this.ensure(4);
        this.buf[this.pos++] = 0x0a; // ArrayValue.values
        const itemStart = this.reserve(1);
        this.anyValue(item);
        this.finish(itemStart, 1);
      }
      this.finish(start, 1);
    } else if (typeof value === "object" && value != null) {
      this.ensure(4);
      this.buf[this.pos++] = 0x32; // AnyValue.kvlist_value
      const start = this.reserve(1);
      const record = value as Record<string, unknown>;
      for (const key in record) {
        if (!Object.prototype.hasOwnProperty.call(record, key)) continue;
        this.ensure(4);
        this.buf[this.pos++] = 0x0a; // KeyValueList.values
        this.keyValue(key, record[key]);
      }
      this.finish(start, 1);
    }
    // Anything else (null, undefined, bigint, …) is an empty AnyValue, as in the official writer.
  }

  // --- fields and primitives ---

  private varintField(tag: number, value: number): void {
    this.ensure(11);
    this.buf[this.pos++] = tag;
    this.varint(value);
  }

  private hrTimeField(tag: number, time: HrTime): void {
    this.ensure(9);
    this.buf[this.pos++] = tag;
    // seconds * 1e9 + nanos as uint64 without leaving the safe-integer range, step for step as
    // the official `writeHrTimeAsFixed64` does, so that even out-of-range times wrap the same way.
    const seconds = time[0];
    const nanos = time[1];
    const fromLow16 = (seconds & 0xffff) * NANOS_PER_SECOND;
    const fromHigh = ((seconds / 0x10000) >>> 0) * NANOS_PER_SECOND;
    const low = (fromLow16 >>> 0) + (((fromHigh & 0xffff) * 0x10000) >>> 0) + nanos;
    const high =
      Math.floor(fromLow16 / 0x100000000) + ((fromHigh / 0x10000) >>> 0) + Math.floor(low / 0x100000000);
    this.fixed32(low >>> 0);
    this.fixed32(high >>> 0);
  }

  /** A bytes field decoded from hex straight into the buffer, with `hexToBinary`'s exact semantics. */
  private hexField(tag: number, hex: string): void {
    const n = hex.length >>> 1;
    this.ensure(11 + n);
    const buf = this.buf;
    buf[this.pos++] = tag;
    this.varint(n);
    let p = this.pos;
    for (let i = 0; i < 2 * n; i += 2) {
      const hi = hex.charCodeAt(i);
      const lo = hex.charCodeAt(i + 1);
      buf[p++] = ((hi < 0x80 ? HEX_DIGITS[hi]! : hi - 55) << 4) | (lo < 0x80 ? HEX_DIGITS[lo]! : lo - 55);
    }
    this.pos = p;
  }

  private cachedStringField(tag: number, value: string): void {
    let encoded = this.strings.get(value);
    if (encoded === undefined) {
      if (this.strings.size >= CACHED_STRINGS || value.length > CACHED_STRING_MAX_LENGTH) {
        return this.stringField(tag, value);
      }
      encoded = encodeString(value);
      this.strings.set(value, encoded);
    }
    this.ensure(1);
    this.buf[this.pos++] = tag;
    this.bytes(encoded);
  }

  /** Raw bytes: a loop beats `set`'s call overhead for the shortest. */
  private bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    if (n > 16) {
      this.buf.set(bytes, this.pos);
      this.pos += n;
      return;
    }
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = bytes[i]!;
    this.pos = p;
  }

  private stringField(tag: number, value: string): void {
    const n = value.length;
    this.ensure(2 + n);
    this.buf[this.pos++] = tag;
    if (n < 128) {
      // Optimistic ASCII: copy while checking, give up on the first non-ASCII character.
      const buf = this.buf;
      let p = this.pos + 1;
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c > 0x7f) return this.utf8(value);
        buf[p++] = c;
      }
      buf[this.pos] = n;
      this.pos = p;
      return;
    }
    this.utf8(value);
  }

  /** Length-prefixed UTF-8; lone surrogates become U+FFFD, as with the official TextEncoder. */
  private utf8(value: string): void {
    const length = Buffer.byteLength(value, "utf8");
    this.ensure(5 + length);
    this.varint(length);
    this.pos += this.buf.write(value, this.pos, length, "utf8");
  }

  /** Varint exactly as the official writer encodes any number, negatives as ten-byte int64. */
  private varint(value: number): void {
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 0x100000000) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 0x100000000) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 0x7f;
  }

  private fixed32(value: number): void {
    const buf = this.buf;
    buf[this.pos++] = value;
    buf[this.pos++] = value >>> 8;
    buf[this.pos++] = value >>> 16;
    buf[this.pos++] = value >>> 24;
  }

  // --- length prefixes and capacity ---

  /**
   * Leaves `bytes` for a length prefix the message body will follow. `finish` writes it, moving
   * the body when the length turns out to need another size (minimal varints, as the official writer).
   */
  private reserve(bytes: number): number {
    this.ensure(bytes);
    const start = this.pos;
    this.pos += bytes;
    return start;
  }

  private finish(start: number, reserved: number): void {
    const length = this.pos - start - reserved;
    if (reserved === 1 && length < 0x80) {
      this.buf[start] = length;
      return;
    }
    const size = varintSize(length);
    if (size !== reserved) {
      this.ensure(size - reserved);
      this.buf.copyWithin(start + size, start + reserved, this.pos);
      this.pos += size - reserved;
    }
    const end = this.pos;
    this.pos = start;
    this.varint(length);
    this.pos = end;
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes > this.buf.length) this.grow(bytes);
  }

  private grow(bytes: number): void {
    let capacity = this.buf.length * 2;
    while (capacity < this.pos + bytes) capacity *= 2;
    const next = Buffer.allocUnsafeSlow(capacity);
    this.buf.copy(next, 0, 0, this.pos);
    this.setBuffer(next);
  }

  private setBuffer(buf: Buffer): void {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
}

type CacheableValue = string | number | boolean;

/**
 * Primitives whose KeyValue encoding depends on nothing but their value (`Map` keys compare by
 * SameValueZero: 0 and -0 both encode as int 0; NaN is left out, its bits could differ).
 */
function isCacheable(value: unknown): value is CacheableValue {
  switch (typeof value) {
    case "string":
      return value.length <= CACHED_STRING_MAX_LENGTH;
    case "number":
      return value === value;
    case "boolean":
      return true;
    default:
      return false;
  }
}

/** W3C trace flags plus OTLP's "has is_remote" bit, and "is remote" when the parent is. */
function spanFlags(ctx: SpanContext, isRemote: boolean | undefined): number {
  return (ctx.traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

function encodeString(value: string): Uint8Array {
  const bytes = Buffer.from(value, "utf8");
  const prefix = varintSize(bytes.length);
  const out = new Uint8Array(prefix + bytes.length);
  let v = bytes.length;
  for (let i = 0; i < prefix - 1; i++, v >>>= 7) out[i] = (v & 0x7f) | 0x80;
  out[prefix - 1] = v;
  out.set(bytes, prefix);
  return out;
}

function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

/**
 * OTLP protobuf of spans, written as each span ends and kept as bytes until exported: a span object
 * then lives only as long as the request that made it, instead of until the next export, where the
 * garbage collector would copy it from young to old space and collect it there. `take()` gives the
 * ExportTraceServiceRequest for the spans appended since the last take: byte for byte what
 * `ProtobufTraceSerializer` (@opentelemetry/otlp-transformer 0.223.0) writes for them, in one pass
 * instead of two (size estimate, then write) and without the per-id `hexToBinary` allocations.
 * Every quirk of the official serializer is kept on purpose — always-written dropped counts and
 * status code, int64 vs double choice, flags, grouping by resource then scope object in
 * first-seen order — so the two are interchangeable; the unit tests compare them byte for byte.
 */
export class SpanAppender {
  /** This batch's writers, by resource then scope, in first-seen order (as the serializer groups). */
  #batch = new Map<Resource, Map<Scope, SpanWriter>>();
  #count = 0;
  /** Writers are kept across batches for their caches of recurring strings and attributes. */
  readonly #writers = new Map<Resource, Map<Scope, SpanWriter>>();
  readonly #envelope = new SpanWriter();

  get count(): number {
    return this.#count;
  }

  append(span: ReadableSpan): void {
    const { resource, instrumentationScope: scope } = span;
    let scopes = this.#batch.get(resource);
    if (!scopes) this.#batch.set(resource, (scopes = new Map<Scope, SpanWriter>()));
    let writer = scopes.get(scope);
    if (!writer) scopes.set(scope, (writer = this.#writerFor(resource, scope)));
    writer.appendSpan(span);
    this.#count++;
  }

  /** The request for every span appended since the last take, or undefined when there is none. */
  take(): Uint8Array | undefined {
    if (this.#count === 0) return undefined;
    const request = this.#envelope.request(this.#batch);
    this.#batch = new Map();
    this.#count = 0;
    return request;
  }

  #writerFor(resource: Resource, scope: Scope): SpanWriter {
    let scopes = this.#writers.get(resource);
    if (!scopes) this.#writers.set(resource, (scopes = new Map<Scope, SpanWriter>()));
    let writer = scopes.get(scope);
    if (!writer) scopes.set(scope, (writer = new SpanWriter()));
    return writer;
  }
}
