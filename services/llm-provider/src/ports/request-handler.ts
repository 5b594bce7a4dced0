import type { ServedSubject, StreamChunk, StreamDone, StreamRestart } from "@llm-provider/contracts";
import type { Context } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { StreamJournal } from "./resumable-streams.js";

/** What every handler knows about the request it serves. */
export interface RequestContext {
  requestId: string;
  /** The caller sent `requestId` (`Request-Id`): a command is then served at most once per id. */
  requestIdFromCaller: boolean;
  /**
   * The calling bounded context, as the NATS server established it (the subject's context token;
   * `anonymous` with one account). Scopes request ids, and goes to the gateway, events, spans,
   * metrics, logs and limits.
   */
  caller: string;
  /** `performance.now()` when the message arrived. */
  receivedAt: number;
  log: Logger;
  /** Aborted when the worker gives up on in-flight work (end of the shutdown grace period). */
  signal: AbortSignal;
  /**
   * The stream protocol the caller speaks (`Stream-Protocol` header; unset: 1): from 2 on it
   * takes `restart` messages.
   */
  streamProtocol?: number;
  /** W3C trace context of the caller, when it sent one. */
  traceparent?: string | undefined;
  /**
   * The request's OpenTelemetry context (its SERVER span), handed on explicitly to whatever makes
   * child spans or propagates the trace: no context follows the request across `await`.
   */
  trace: Context;
}

/** A handler takes the decoded JSON body and returns the reply body, or throws an `LlmProviderError`. */
export type Handler = (body: unknown, context: RequestContext) => Promise<unknown>;

/** A reply body the handler encoded itself (to know its size before it is sent); sent as is. */
export class EncodedReply {
  constructor(readonly bytes: Uint8Array) {}
}

/** Where a streaming handler writes the answer as it arrives; the edge numbers and sends each piece. */
export interface StreamWriter {
  write(delta: StreamChunk["delta"]): void;
  /** Tells the caller (stream protocol 2) that another target takes over the answer. */
  restart(restart: Omit<StreamRestart, "type" | "seq" | "request_id">): void;
  /** Pieces written so far: after the first one, the request can no longer fall back. */
  readonly written: number;
  /**
   * Every message of the stream from now on, the terminal one included, also goes to `journal`
   * (a resumable stream). Called before the first piece.
   */
  keep(journal: StreamJournal): void;
}

/** What a streaming handler returns when the stream finished: the terminal message's fields. */
export type StreamResult = Omit<StreamDone, "type" | "seq" | "request_id">;

/** A handler that answers with many messages (chunks, then one terminal message, then a sentinel). */
export interface StreamEndpoint {
  kind: "stream";
  handler: (body: unknown, context: RequestContext, writer: StreamWriter) => Promise<StreamResult>;
  /**
   * For an endpoint that continues an earlier stream: the stream it continues, read from the body
   * (undefined when the body does not name one). Its messages then carry that request id and are
   * numbered on from `afterSeq + 1`, and a cancel of that request id reaches it.
   */
  continues?: (body: unknown) => { requestId: string; afterSeq: number } | undefined;
}

/** Request subject → what serves it. */
export type Endpoints = Readonly<Partial<Record<ServedSubject, Handler | StreamEndpoint>>>;
