import { randomUUID } from "node:crypto";
import { Empty, headers as createHeaders, errors as natsErrors } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import type { Service, ServiceMsg } from "@nats-io/services";
import {
  CancelStreamSchema,
  findExcessiveNesting,
  HEADERS,
  LlmProviderError,
  MAX_JSON_DEPTH,
  REQUEST_ID_PATTERN,
  REQUEST_ID_RULE,
  SUBJECTS,
} from "@llm-provider/contracts";
import type { Attempt, RequestSubject, StreamChunk, StreamRestart } from "@llm-provider/contracts";
import type { Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import { EncodedReply } from "../handlers/context.js";
import type { Handler, RequestContext, StreamEndpoint, StreamWriter } from "../handlers/context.js";
import { getInstruments } from "../telemetry/instruments.js";
import { ATTR, METRIC } from "../telemetry/semconv.js";
import { endServerSpan, startServerSpan } from "../telemetry/server-span.js";
import type { CallerIdentity } from "./caller-identity.js";
import { EndpointMetrics } from "./endpoint-metrics.js";
import { LinkedSet } from "./linked-set.js";
import type { Link } from "./linked-set.js";
import type { Outbox } from "./nats-outbox.js";
import { isInboxSubject } from "./reply-subject.js";
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
  /** How the caller of a request is known: from the subject it arrived on. */
  callers: CallerIdentity;
  /** Reply subjects answered (an inbox); a request with any other reply subject is not served. */
  replyPrefixes: readonly string[];
  /** Request subject → handler. The last subject token is the endpoint name. */
  endpoints: Readonly<Partial<Record<RequestSubject, Handler | StreamEndpoint>>>;
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
  subject: RequestSubject;
  requestId: string;
  caller: string;
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
  const { nc, logger, maxInFlight, maxRequestBytes, outbox, callers } = options;
  const endpoints = Object.entries(options.endpoints) as [RequestSubject, Handler | StreamEndpoint][];
  const metrics = new EndpointMetrics(endpoints.map(([subject]) => subject));
  /** Served subject (`llm-provider.ctx.*.…` with accounts) → the request subject it serves. */
  const requestSubjectOf = new Map(endpoints.map(([subject]) => [callers.servingSubject(subject), subject]));
  const inFlight = new LinkedSet<InFlightRequest>();
  let idle: (() => void) | undefined;

  const service: Service = await new Svcm(nc).add({
    name: options.name,
    version: options.version,
    description: options.description,
    queue: options.queue,
    statsHandler: (endpoint) =>
      Promise.resolve(
        metrics.snapshot(requestSubjectOf.get(endpoint.subject) ?? endpoint.subject, inFlight.size),
      ),
  });

  // Per caller (the configured contexts and `anonymous`, so few), made once.
  const callerLoggers = new Map<string, Logger>();
  const loggerOf = (caller: string) => {
    let child = callerLoggers.get(caller);
    if (!child) callerLoggers.set(caller, (child = logger.child({ caller })));
    return child;
  };
  const refusalsLogged = new Set<string>();

  /**
   * A request that gets no answer at all: its reply subject is not an inbox (answering would
   * publish there with this worker's rights) or it has none. Counted, and logged once per caller
   * and reason so that a flood cannot flood the log.
   */
  function refuse(subject: string, caller: string | undefined, reply: string | undefined) {
    const reason = reply ? "reply_subject" : "no_reply";
    const who = caller ?? UNKNOWN_CALLER;
    metrics.recordRefused(requestSubjectOf.get(subject) ?? subject);
    getInstruments().refusedRequests.add(1, { [ATTR.refusalReason]: reason, [ATTR.caller]: who });
    const key = `${who}\0${reason}`;
    if (refusalsLogged.has(key)) return;
    refusalsLogged.add(key);
    logger.warn(
      { caller: who, subject, reason, reply: reply?.slice(0, 64) },
      reason === "no_reply"
        ? "request without a reply subject not served (logged once per caller)"
        : "request whose reply subject is not an inbox not served (logged once per caller)",
    );
  }

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
    const log = loggerOf(entry.caller);
    if (typed.code === "internal") {
      log.error(
        { request_id: entry.requestId, subject, err: describeUnknown(error) },
        "request failed unexpectedly",
      );
    } else {
      log.info({ request_id: entry.requestId, subject, code: typed.code, field: typed.field }, typed.message);
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
    if (entry.stream) {
      // The same caller may reuse a request id for a later stream: remove only this one.
      const key = streamKey(entry.caller, entry.requestId);
      if (streams.get(key) === entry) streams.delete(key);
    }
    if (inFlight.size === 0) idle?.();
  }

  function dispatch(subject: RequestSubject, endpoint: Handler | StreamEndpoint, msg: ServiceMsg): void {
    const caller = callers.callerOf(msg.subject);
    // Before anything else: nothing is ever sent to a reply subject that is not an inbox.
    if (!isInboxSubject(msg.reply, options.replyPrefixes)) {
      refuse(msg.subject, caller, msg.reply);
      return;
    }
    const started = performance.now();
    const sentId = msg.headers?.get(HEADERS.requestId) ?? "";
    const validId = sentId === "" || REQUEST_ID_PATTERN.test(sentId);
    const requestId = sentId !== "" && validId ? sentId : randomUUID();
    const server = startServerSpan(subject, options.queue, msg.headers, msg.data.length, requestId);
    if (server.span.isRecording()) server.span.setAttribute(ATTR.caller, caller ?? UNKNOWN_CALLER);
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
      caller: caller ?? UNKNOWN_CALLER,
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
    if (caller === undefined) {
      replyError(
        entry,
        new LlmProviderError("forbidden", "the calling context is not served by this service"),
      );
      return;
    }
    if (!validId) {
      const message = `${HEADERS.requestId} header must be ${REQUEST_ID_RULE}`;
      replyError(entry, new LlmProviderError("invalid_request", message, { field: HEADERS.requestId }));
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
      caller,
      receivedAt: started,
      log: loggerOf(caller),
      signal: entry.abandon.signal,
      streamProtocol: streaming ? streamProtocolOf(msg.headers?.get(HEADERS.streamProtocol)) : 1,
      traceparent: msg.headers?.get(HEADERS.traceparent) || undefined,
      trace: server.context,
    };
    let work: () => Promise<unknown>;
    if (streaming) {
      streams.set(streamKey(caller, requestId), entry);
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
    const send = (message: StreamChunk | StreamRestart) => {
      const body = JSON.stringify(message);
      outbox.defer(() => entry.msg.respond(body));
    };
    return {
      get written() {
        return written;
      },
      write(delta) {
        if (entry.answered || !entry.stream) return;
        send({ type: "chunk", seq: entry.stream.seq++, request_id: entry.requestId, delta });
        written++;
      },
      restart(restart) {
        if (entry.answered || !entry.stream) return;
        send({ type: "restart", seq: entry.stream.seq++, request_id: entry.requestId, ...restart });
      },
    };
  }

  // Streams by caller and request id, so that a caller who stopped reading can stop the upstream
  // call — its own stream only: the cancel's caller comes from its subject, as a request's does.
  const streams = new Map<string, InFlightRequest>();
  const cancellations = nc.subscribe(callers.servingSubject(SUBJECTS.cancelStream), {
    callback: (_error, msg) => {
      const caller = callers.callerOf(msg.subject);
      const cancel = CancelStreamSchema.safeParse(safeJson(msg.data));
      if (caller === undefined || !cancel.success) return;
      const entry = streams.get(streamKey(caller, cancel.data.request_id));
      if (entry?.stream)
        entry.abandon.abort(new LlmProviderError("cancelled", "the caller cancelled the stream"));
    },
  });

  for (const [subject, handler] of endpoints) {
    const name = subject.slice(subject.lastIndexOf(".") + 1);
    service.addEndpoint(name, {
      subject: callers.servingSubject(subject),
      handler: (_error, msg) => dispatch(subject, handler, msg),
    });
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

/** A request from a context that is not served (answered `forbidden`), in logs, spans and metrics. */
const UNKNOWN_CALLER = "unknown";

/** `fatal`: a body that is not valid UTF-8 is refused, never silently repaired with U+FFFD. */
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The `Stream-Protocol` a caller sent: a positive integer, else 1. */
function streamProtocolOf(header: string | undefined): number {
  const version = Number(header);
  return Number.isInteger(version) && version > 0 ? version : 1;
}

function streamKey(caller: string, requestId: string): string {
  return `${caller}\0${requestId}`;
}

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
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    throw new LlmProviderError("invalid_json", "request body is not valid UTF-8");
  }
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (error) {
    throw new LlmProviderError("invalid_json", `request body is not valid JSON: ${(error as Error).message}`);
  }
  const tooDeep = findExcessiveNesting(body);
  if (tooDeep !== undefined) {
    throw new LlmProviderError("invalid_request", `${tooDeep}: nested deeper than ${MAX_JSON_DEPTH} levels`, {
      field: tooDeep,
    });
  }
  return body;
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
