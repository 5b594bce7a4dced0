import { Empty, headers as createHeaders, errors as natsErrors } from "@nats-io/nats-core";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { HEADERS, LlmProviderError } from "@llm-provider/contracts";
import type { Attempt, StreamDone, StreamError } from "@llm-provider/contracts";
import type { Logger } from "pino";
import { EncodedReply } from "../../ports/request-handler.js";
import { endServerSpan } from "./server-span.js";
import type { EndpointMetrics } from "./endpoint-metrics.js";
import type { InFlightRequest } from "./in-flight-request.js";

export interface ServiceRepliesOptions {
  nc: NatsConnection;
  metrics: EndpointMetrics;
  /** The logger of a caller's requests. */
  loggerOf: (caller: string) => Logger;
}

/**
 * The one edge that turns a request's result or error into its reply: exactly one per request
 * (the `answered` flag), with the `Request-Id` header, counted and its SERVER span ended. A stream
 * ends with one terminal message and the empty sentinel (`requestMany`'s sentinel strategy).
 */
export class ServiceReplies {
  readonly #options: ServiceRepliesOptions;

  constructor(options: ServiceRepliesOptions) {
    this.#options = options;
  }

  reply(entry: InFlightRequest, result: unknown): void {
    if (entry.answered) return;
    entry.answered = true;
    const hdrs = requestIdHeader(entry);
    if (entry.stream) {
      const done = {
        type: "done",
        seq: entry.stream.seq++,
        request_id: entry.requestId,
        ...(result as object),
      } as StreamDone;
      entry.stream.journal?.append(done);
      if (!this.#respond(entry, JSON.stringify(done), hdrs) || !this.#respond(entry, Empty)) return;
    } else {
      const body = result instanceof EncodedReply ? result.bytes : JSON.stringify(result);
      try {
        entry.msg.respond(body, { headers: hdrs });
      } catch (error) {
        // nats.js refuses a message over the server's max_payload at once: never drop the reply, say so.
        if (error instanceof natsErrors.InvalidArgumentError) {
          entry.answered = false;
          this.replyError(entry, this.#tooLarge(body));
        } else {
          this.#notSent(entry, error);
        }
        return;
      }
    }
    this.#options.metrics.recordSuccess(entry.subject, performance.now() - entry.started);
    endServerSpan(entry.span);
  }

  replyError(entry: InFlightRequest, error: unknown): void {
    if (entry.answered) return;
    entry.answered = true;
    const typed = toTypedError(error);
    this.#logError(entry, typed, error);
    const hdrs = requestIdHeader(entry);
    // Header values are single-line; the full message is in the JSON body.
    const description = typed.message.replace(/[\r\n]+/g, " ").slice(0, 256);
    let body: string;
    if (entry.stream) {
      // One terminal error message (the body also reads as an error envelope), then the sentinel.
      const attempts = (typed.details?.attempts as Attempt[] | undefined) ?? [];
      const message: StreamError = {
        type: "error",
        seq: entry.stream.seq++,
        request_id: entry.requestId,
        error: typed.toBody(),
        attempts,
      };
      entry.stream.journal?.append(message);
      body = JSON.stringify(message);
    } else {
      body = JSON.stringify({ error: typed.toBody() });
    }
    try {
      entry.msg.respondError(typed.status, description, body, { headers: hdrs });
      if (entry.stream) entry.msg.respond(Empty);
    } catch (sendError) {
      this.#notSent(entry, sendError);
      return;
    }
    this.#options.metrics.recordError(
      entry.subject,
      typed.code,
      description,
      performance.now() - entry.started,
    );
    endServerSpan(entry.span, typed.code, typed.code === "internal" ? error : undefined);
  }

  #respond(entry: InFlightRequest, body: string | Uint8Array, hdrs?: MsgHdrs): boolean {
    try {
      entry.msg.respond(body, hdrs ? { headers: hdrs } : undefined);
      return true;
    } catch (error) {
      this.#notSent(entry, error);
      return false;
    }
  }

  /** The connection is closed or draining: nobody can be answered; the caller's timeout tells it. */
  #notSent(entry: InFlightRequest, error: unknown): void {
    this.#options
      .loggerOf(entry.caller)
      .warn(
        { request_id: entry.requestId, subject: entry.subject, err: describeUnknown(error) },
        "reply not sent",
      );
    endServerSpan(entry.span, "reply_not_sent", error);
  }

  #tooLarge(body: string | Uint8Array): LlmProviderError {
    const size = typeof body === "string" ? Buffer.byteLength(body) : body.length;
    const limit = this.#options.nc.info?.max_payload ?? 0;
    return new LlmProviderError(
      "payload_too_large",
      `reply of ${size} bytes exceeds the server's max_payload of ${limit} bytes`,
      { details: { reply_bytes: size, max_payload: limit } },
    );
  }

  #logError(entry: InFlightRequest, typed: LlmProviderError, error: unknown): void {
    const log = this.#options.loggerOf(entry.caller);
    const { requestId: request_id, subject } = entry;
    if (typed.code === "internal")
      log.error({ request_id, subject, err: describeUnknown(error) }, "request failed unexpectedly");
    else log.info({ request_id, subject, code: typed.code, field: typed.field }, typed.message);
  }
}

function requestIdHeader(entry: InFlightRequest): MsgHdrs {
  const hdrs = createHeaders();
  hdrs.set(HEADERS.requestId, entry.requestId);
  return hdrs;
}

/** Known errors pass through; anything else becomes `internal` without leaking its text. */
function toTypedError(error: unknown): LlmProviderError {
  if (error instanceof LlmProviderError) return error;
  return new LlmProviderError("internal", "internal error");
}

function describeUnknown(error: unknown): { type: string; message: string; stack?: string | undefined } {
  if (error instanceof Error) return { type: error.name, message: error.message, stack: error.stack };
  return { type: typeof error, message: String(error) };
}
