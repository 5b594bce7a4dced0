import { randomUUID } from "node:crypto";
import type { ServiceMsg } from "@nats-io/services";
import { HEADERS, REQUEST_ID_PATTERN } from "@llm-provider/contracts";
import type { ServedSubject } from "@llm-provider/contracts";
import type { Context, Span } from "@opentelemetry/api";
import type { StreamJournal } from "../../ports/resumable-streams.js";
import { ATTR } from "../../telemetry/semconv.js";
import { startServerSpan } from "./server-span.js";

/** A request from a context that is not served (answered `forbidden`), in logs, spans and metrics. */
export const UNKNOWN_CALLER = "unknown";

/** A request between its arrival and its one reply. */
export interface InFlightRequest {
  msg: ServiceMsg;
  subject: ServedSubject;
  requestId: string;
  /** The caller sent the request id (else it was made here). */
  requestIdFromCaller: boolean;
  caller: string;
  /** `performance.now()` when it arrived. */
  started: number;
  span: Span;
  /** The SERVER span's context, handed on to what makes child spans. */
  trace: Context;
  answered: boolean;
  /** Aborted when nobody waits for the answer any more: the stream's caller cancelled, or shutdown. */
  abandon: AbortController;
  /**
   * Set for streaming requests: the next sequence number, and the journal that also keeps every
   * message of a resumable stream.
   */
  stream?: { seq: number; journal?: StreamJournal };
}

export interface OpenedRequest {
  entry: InFlightRequest;
  /** False when the caller sent a `Request-Id` that breaks the rule (the entry has a generated one). */
  validRequestId: boolean;
}

/** The caller's `Request-Id`, or a new one when it sent none or one that breaks the rule. */
export function requestIdOf(msg: ServiceMsg): {
  requestId: string;
  validRequestId: boolean;
  fromCaller: boolean;
} {
  const sentId = msg.headers?.get(HEADERS.requestId) ?? "";
  const validRequestId = sentId === "" || REQUEST_ID_PATTERN.test(sentId);
  const fromCaller = sentId !== "" && validRequestId;
  return { requestId: fromCaller ? sentId : randomUUID(), validRequestId, fromCaller };
}

/**
 * Starts a request's record: its id (the caller's `Request-Id`, or a new one when it sent none
 * or a bad one) and its SERVER span.
 */
export function openRequest(
  subject: ServedSubject,
  msg: ServiceMsg,
  caller: string | undefined,
  queue: string,
  streaming: boolean,
): OpenedRequest {
  const started = performance.now();
  const { requestId, validRequestId, fromCaller } = requestIdOf(msg);
  const server = startServerSpan(subject, queue, msg.headers, msg.data.length, requestId);
  if (server.span.isRecording()) server.span.setAttribute(ATTR.caller, caller ?? UNKNOWN_CALLER);
  const entry: InFlightRequest = {
    msg,
    subject,
    requestId,
    requestIdFromCaller: fromCaller,
    caller: caller ?? UNKNOWN_CALLER,
    started,
    span: server.span,
    trace: server.context,
    answered: false,
    // One per request, not one shared by all: every attempt listens on it, and a long-lived
    // signal's listener list keeps finished requests' listeners (and what they hold) reachable.
    abandon: new AbortController(),
  };
  if (streaming) entry.stream = { seq: 0 };
  return { entry, validRequestId };
}
