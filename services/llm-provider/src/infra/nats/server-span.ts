import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Attributes, Context, Span, Tracer } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/nats-core";
import { extractTraceContext } from "./nats-trace-context.js";
import { ATTR, SCOPE } from "../../telemetry/semconv.js";

export interface ServerSpan {
  span: Span;
  /** Run the handler in this context so its spans are children of the server span. */
  context: Context;
}

// Per subject and queue group (a handful): built once, copied by the SDK into each span.
const subjectAttributes = new Map<string, Attributes>();
// Looked up once: `getTracer` builds a key and searches the provider's tracers on every call.
let tracer: Tracer | undefined;

function attributesOf(subject: string, queue: string): Attributes {
  const key = `${subject} ${queue}`;
  let attributes = subjectAttributes.get(key);
  if (!attributes) {
    attributes = {
      [ATTR.messagingSystem]: "nats",
      [ATTR.messagingDestinationName]: subject,
      [ATTR.messagingOperationType]: "process",
      [ATTR.messagingOperationName]: "process",
      [ATTR.messagingConsumerGroupName]: queue,
    };
    subjectAttributes.set(key, attributes);
  }
  return attributes;
}

/** A SERVER span for one NATS request, continuing the caller's trace when it sent one. */
export function startServerSpan(
  subject: string,
  queue: string,
  headers: MsgHdrs | undefined,
  bodySize: number,
  requestId: string,
): ServerSpan {
  const parent = extractTraceContext(headers);
  tracer ??= trace.getTracer(SCOPE);
  const span = tracer.startSpan(
    `process ${subject}`,
    { kind: SpanKind.SERVER, attributes: attributesOf(subject, queue) },
    parent,
  );
  if (span.isRecording()) {
    span.setAttribute(ATTR.messagingMessageBodySize, bodySize);
    span.setAttribute(ATTR.requestId, requestId);
  }
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends the server span with the reply's outcome: an error code sets `error.type` and the status. */
export function endServerSpan(span: Span, errorCode?: string, exception?: unknown): void {
  if (errorCode !== undefined) {
    span.setAttribute(ATTR.errorType, errorCode);
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode });
    if (exception instanceof Error) span.recordException(exception);
  }
  span.end();
}
