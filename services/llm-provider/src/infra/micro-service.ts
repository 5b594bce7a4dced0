import { randomUUID } from "node:crypto";
import { Empty, headers as createHeaders, errors as natsErrors } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import type { Service, ServiceGroup, ServiceMsg } from "@nats-io/services";
import { CancelStreamSchema, HEADERS, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { Attempt, StreamChunk } from "@llm-provider/contracts";
import type { Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import { EncodedReply } from "../handlers/context.js";
import type { Handler, RequestContext, StreamEndpoint, StreamWriter } from "../handlers/context.js";
import { getInstruments } from "../telemetry/instruments.js";
import { METRIC } from "../telemetry/semconv.js";
import { endServerSpan, startServerSpan } from "../telemetry/server-span.js";
import { EndpointMetrics } from "./endpoint-metrics.js";
import { LinkedSet } from "./linked-set.js";
import type { Link } from "./linked-set.js";
import type { Outbox } from "./nats-outbox.js";
import { withinMs } from "./within-ms.js";

export interface MicroServiceOptions {
  nc: NatsConnection;
  name: string;
  version: string;
  description: string;
  queue: string;
  /** Requests handled at once by this process; more get a `busy` error at once. */
  maxInFlight: number;
  maxRequestBytes: number;
  logger: Logger;
  /** Where replies wait for the end of the event-loop turn (shared with the event publisher). */
  outbox: Outbox;
  /** Subject → handler. The last subject token is the endpoint name, the others its groups. */
  endpoints: Readonly<Record<string, Handler | StreamEndpoint>>;
}

export interface RunningService {
  readonly id: string;
  readonly metrics: EndpointMetrics;
  inFlight(): number;
  /**
   * Stops taking requests (subscriptions drain, so requests already delivered are still served),
   * waits up to `graceMs` for the ones in flight, then answers the rest with `shutting_down`.
   */
  stop(graceMs: number): Promise<void>;
}

interface InFlightRequest {
  msg: ServiceMsg;
  subject: string;
  requestId: string;
  started: number;
  span: Span;
  answered: boolean;
  /** Aborted when nobody waits for the answer any more: the stream's caller cancelled, or shutdown. */
  abandon: AbortController;
  /** Set for streaming requests: the next sequence number. */
  stream?: { seq: number };
  /** Its place among the requests in flight, while it is there. */
  inFlight?: Link<InFlightRequest>;
}

/**
 * The NATS micro service: discovery ($SRV.PING/INFO/STATS), one queue group, a bounded number of
 * requests in flight, and the one edge that turns results and errors into replies.
 * The framework never awaits handlers, so this owns the bound, the replies and the counting.
 */
export async function startMicroService(options: MicroServiceOptions): Promise<RunningService> {
  const { nc, logger, maxInFlight, maxRequestBytes, outbox } = options;
  const metrics = new EndpointMetrics(Object.keys(options.endpoints));
  const inFlight = new LinkedSet<InFlightRequest>();
  let idle: (() => void) | undefined;

  const service: Service = await new Svcm(nc).add({
    name: options.name,
    version: options.version,
    description: options.description,
    queue: options.queue,
    statsHandler: (endpoint) => Promise.resolve(metrics.snapshot(endpoint.subject, inFlight.size)),
  });

  getInstruments()
    .meter.createObservableGauge(METRIC.requestsInFlight, { description: "Requests this worker is handling" })
    .addCallback((result) => result.observe(inFlight.size));

  function reply(entry: InFlightRequest, result: unknown): void {
    if (entry.answered) return;
    entry.answered = true;
    outbox.defer(() => sendReply(entry, result));
  }

  function sendReply(entry: InFlightRequest, result: unknown): void {
    const hdrs = createHeaders();
    hdrs.set(HEADERS.requestId, entry.requestId);
    if (entry.stream) {
      const done = {
        type: "done",
        seq: entry.stream.seq++,
        request_id: entry.requestId,
        ...(result as object),
      };
      entry.msg.respond(JSON.stringify(done), { headers: hdrs });
      entry.msg.respond(Empty); // the sentinel: `requestMany` with the sentinel strategy stops here
    } else {
      const body = result instanceof EncodedReply ? result.bytes : JSON.stringify(result);
      try {
        entry.msg.respond(body, { headers: hdrs });
      } catch (error) {
        // nats.js refuses a message over the server's max_payload at once: never drop the reply, say so.
        if (!(error instanceof natsErrors.InvalidArgumentError)) throw error;
        entry.answered = false;
        const size = typeof body === "string" ? Buffer.byteLength(body) : body.length;
        const limit = nc.info?.max_payload ?? 0;
        const message = `reply of ${size} bytes exceeds the server's max_payload of ${limit} bytes`;
        replyError(
          entry,
          new LlmProviderError("payload_too_large", message, {
            details: { reply_bytes: size, max_payload: limit },
          }),
        );
        return;
      }
    }
    metrics.recordSuccess(entry.subject, performance.now() - entry.started);
    endServerSpan(entry.span);
  }

  function replyError(entry: InFlightRequest, error: unknown): void {
    if (entry.answered) return;
    entry.answered = true;
    outbox.defer(() => sendError(entry, error));
  }

  function sendError(entry: InFlightRequest, error: unknown): void {
    const { subject } = entry;
    const typed = toTypedError(error);
    if (typed.code === "internal") {
      logger.error(
        { request_id: entry.requestId, subject, err: describeUnknown(error) },
        "request failed unexpectedly",
      );
    } else {
      logger.info(
        { request_id: entry.requestId, subject, code: typed.code, field: typed.field },
        typed.message,
      );
    }
    const hdrs = createHeaders();
    hdrs.set(HEADERS.requestId, entry.requestId);
    // Header values are single-line; the full message is in the JSON body.
    const description = typed.message.replace(/[\r\n]+/g, " ").slice(0, 256);
    if (entry.stream) {
      // One terminal error message (the body also reads as an error envelope), then the sentinel.
      const attempts = (typed.details?.attempts as Attempt[] | undefined) ?? [];
      const terminal = {
        type: "error",
        seq: entry.stream.seq++,
        request_id: entry.requestId,
        error: typed.toBody(),
        attempts,
      };
      entry.msg.respondError(typed.status, description, JSON.stringify(terminal), { headers: hdrs });
      entry.msg.respond(Empty);
    } else {
      entry.msg.respondError(typed.status, description, JSON.stringify({ error: typed.toBody() }), {
        headers: hdrs,
      });
    }
    metrics.recordError(subject, typed.code, performance.now() - entry.started);
    endServerSpan(entry.span, typed.code, typed.code === "internal" ? error : undefined);
  }

  function finish(entry: InFlightRequest): void {
    if (entry.inFlight) inFlight.delete(entry.inFlight);
    if (entry.stream) streams.delete(entry.requestId);
    if (inFlight.size === 0) idle?.();
  }

  function dispatch(subject: string, endpoint: Handler | StreamEndpoint, msg: ServiceMsg): void {
    const started = performance.now();
    const requestId = msg.headers?.get(HEADERS.requestId) || randomUUID();
    const server = startServerSpan(subject, options.queue, msg.headers, msg.data.length, requestId);
    // A signal per request, not one shared by all: every attempt listens on its request's signal,
    // and Node keeps an EventTarget's listeners in a linked list whose removed entries still point
    // at their successors. On a signal living as long as the process, a removed listener promoted
    // to the old generation kept the next request's listener, and all its attempt held, alive
    // through young-generation collections, into the old generation in turn (GC trace of
    // bench:telemetry-cost after a cold start at full load: a third less promoted, a third less
    // scavenging time per request; in a steady state reached gently, no difference in CPU).
    const entry: InFlightRequest = {
      msg,
      subject,
      requestId,
      started,
      span: server.span,
      answered: false,
      abandon: new AbortController(),
    };
    const streaming = typeof endpoint !== "function";
    if (streaming) entry.stream = { seq: 0 };
    if (inFlight.size >= maxInFlight) {
      const busy = new LlmProviderError(
        "busy",
        `worker has ${maxInFlight} requests in flight; retry shortly`,
        {
          retryAfterMs: 100,
        },
      );
      replyError(entry, busy);
      return;
    }
    let body: unknown;
    try {
      body = decodeBody(msg.data, maxRequestBytes);
    } catch (error) {
      replyError(entry, error);
      return;
    }
    entry.inFlight = inFlight.add(entry);
    const context: RequestContext = {
      requestId,
      receivedAt: started,
      log: logger,
      signal: entry.abandon.signal,
      traceparent: msg.headers?.get(HEADERS.traceparent) || undefined,
      trace: server.context,
    };
    let work: () => Promise<unknown>;
    if (streaming) {
      streams.set(requestId, entry);
      const writer = createStreamWriter(entry);
      work = () => endpoint.handler(body, context, writer);
    } else {
      work = () => endpoint(body, context);
    }
    // No ambient context: the handler hands `context.trace` on to what makes child spans.
    let running: Promise<unknown>;
    try {
      running = work();
    } catch (error) {
      running = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    running.then(
      (result) => {
        reply(entry, result);
        finish(entry);
      },
      (error: unknown) => {
        replyError(entry, error);
        finish(entry);
      },
    );
  }

  function createStreamWriter(entry: InFlightRequest): StreamWriter {
    let written = 0;
    return {
      get written() {
        return written;
      },
      write(delta: StreamChunk["delta"]) {
        if (entry.answered || !entry.stream) return;
        const chunk: StreamChunk = {
          type: "chunk",
          seq: entry.stream.seq++,
          request_id: entry.requestId,
          delta,
        };
        const body = JSON.stringify(chunk);
        outbox.defer(() => entry.msg.respond(body));
        written++;
      },
    };
  }

  // Streams by request id, so that a caller who stopped reading can stop the upstream call.
  const streams = new Map<string, InFlightRequest>();
  const cancellations = nc.subscribe(SUBJECTS.cancelStream, {
    callback: (_error, msg) => {
      const cancel = CancelStreamSchema.safeParse(safeJson(msg.data));
      if (!cancel.success) return;
      const entry = streams.get(cancel.data.request_id);
      if (entry?.stream)
        entry.abandon.abort(new LlmProviderError("cancelled", "the caller cancelled the stream"));
    },
  });

  for (const [subject, handler] of Object.entries(options.endpoints)) {
    const tokens = subject.split(".");
    const name = tokens.pop()!;
    let group: ServiceGroup = service;
    for (const token of tokens) group = group.addGroup(token);
    group.addEndpoint(name, { handler: (_error, msg) => dispatch(subject, handler, msg) });
  }

  return {
    id: service.info().id,
    metrics,
    inFlight: () => inFlight.size,
    async stop(graceMs: number): Promise<void> {
      await service.stop();
      if (inFlight.size > 0) {
        await withinMs(new Promise<void>((resolve) => (idle = resolve)), graceMs);
      }
      const left = [...inFlight]; // a copy: answering may finish requests
      for (const entry of left) entry.abandon.abort(); // upstream calls nobody waits for
      for (const entry of left) {
        const error = new LlmProviderError("shutting_down", "worker shut down before the request finished");
        replyError(entry, error);
      }
      inFlight.clear();
      streams.clear();
      cancellations.unsubscribe();
      outbox.flush(); // the last answers go out before the connection drains
    },
  };
}

const decoder = new TextDecoder();

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data)) as unknown;
  } catch {
    return undefined;
  }
}

/** Size check and JSON decoding; an empty body reads as `{}` (as `nats req subject ''` sends). */
export function decodeBody(data: Uint8Array, maxBytes: number): unknown {
  if (data.length > maxBytes) {
    throw new LlmProviderError(
      "payload_too_large",
      `request is ${data.length} bytes; the limit is ${maxBytes}`,
      {
        details: { size: data.length, limit: maxBytes },
      },
    );
  }
  if (data.length === 0) return {};
  try {
    return JSON.parse(decoder.decode(data)) as unknown;
  } catch (error) {
    throw new LlmProviderError("invalid_json", `request body is not valid JSON: ${(error as Error).message}`);
  }
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
