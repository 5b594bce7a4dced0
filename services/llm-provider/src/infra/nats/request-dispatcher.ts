import type { NatsConnection } from "@nats-io/nats-core";
import type { ServiceMsg } from "@nats-io/services";
import { HEADERS, LlmProviderError } from "@llm-provider/contracts";
import type { ServedSubject } from "@llm-provider/contracts";
import type { Logger } from "pino";
import type { Handler, RequestContext, StreamEndpoint } from "../../ports/request-handler.js";
import { BusyReplies } from "./busy-replies.js";
import type { CallerIdentity } from "./caller-identity.js";
import type { EndpointMetrics } from "./endpoint-metrics.js";
import { openRequest, UNKNOWN_CALLER } from "./in-flight-request.js";
import type { InFlightRequest } from "./in-flight-request.js";
import { admissionError, decodeBody, RefusedRequests } from "./request-admission.js";
import { isInboxSubject } from "./reply-subject.js";
import { ServiceReplies } from "./service-replies.js";
import { createStreamWriter, StreamRequests } from "./stream-requests.js";
import { withinMs } from "../../shared/within-ms.js";
import { ATTR } from "../../telemetry/semconv.js";

/**
 * Admitted handlers started per turn of the event loop. A burst arrives over several socket reads;
 * starting hundreds of handlers in one go would hold the rest of it (and its `busy` answers)
 * unread until they all got going.
 */
const START_SLICE = 16;

export interface DispatcherOptions {
  nc: NatsConnection;
  /** The queue group, for the SERVER spans. */
  queue: string;
  maxInFlight: number;
  maxRequestBytes: number;
  logger: Logger;
  callers: CallerIdentity;
  replyPrefixes: readonly string[];
  metrics: EndpointMetrics;
  /** The live configuration's revision in force (undefined: the file's alone), put on each request's span. */
  configRevision?: (() => number | undefined) | undefined;
}

/**
 * Admits each request, runs its handler and sends its one reply. The framework never awaits a
 * handler, so this owns the in-flight bound: a request over it is answered `busy` at once.
 */
export class RequestDispatcher {
  readonly #options: DispatcherOptions;
  readonly #inFlight = new Set<InFlightRequest>();
  readonly #idleWaiters = new Set<() => void>();
  /** Admitted requests whose handler has not started yet. */
  readonly #starting: (() => void)[] = [];
  #startScheduled = false;
  /** Handlers started since the last scheduled turn: at most START_SLICE start in one. */
  #startedThisTurn = 0;
  /** Per caller (the configured contexts and `anonymous`, so few), made once. */
  readonly #callerLoggers = new Map<string, Logger>();
  readonly #refused: RefusedRequests;
  readonly #busy: BusyReplies;
  readonly #replies: ServiceReplies;
  readonly #streams: StreamRequests;

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#refused = new RefusedRequests(options.metrics, options.logger);
    this.#busy = new BusyReplies(options);
    this.#replies = new ServiceReplies({
      nc: options.nc,
      metrics: options.metrics,
      loggerOf: (caller) => this.#loggerOf(caller),
    });
    this.#streams = new StreamRequests(options.nc, options.callers);
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** The endpoint callback: synchronous, it starts the handler and returns. */
  dispatch(subject: ServedSubject, endpoint: Handler | StreamEndpoint, msg: ServiceMsg): void {
    const { callers, replyPrefixes, queue, maxInFlight, maxRequestBytes } = this.#options;
    const caller = callers.callerOf(msg.subject);
    // Before anything else: nothing is ever sent to a reply subject that is not an inbox.
    if (!isInboxSubject(msg.reply, replyPrefixes)) {
      this.#refused.refuse(subject, msg.subject, caller, msg.reply);
      return;
    }
    const streaming = typeof endpoint !== "function";
    // Before the request gets a record, a span or an error object: under a burst the refusals
    // run on the loop the admitted requests need, and must not wait behind them or slow them.
    if (this.#inFlight.size >= maxInFlight) {
      this.#busy.reply(subject, msg, caller ?? UNKNOWN_CALLER, streaming);
      return;
    }
    const { entry, validRequestId } = openRequest(subject, msg, caller, queue, streaming);
    const revision = this.#options.configRevision?.();
    if (revision !== undefined && entry.span.isRecording())
      entry.span.setAttribute(ATTR.configRevision, revision);
    const refusal = admissionError({ caller, validRequestId });
    if (refusal) {
      this.#replies.replyError(entry, refusal);
      return;
    }
    let body: unknown;
    try {
      body = decodeBody(msg.data, maxRequestBytes);
    } catch (error) {
      this.#replies.replyError(entry, error);
      return;
    }
    if (typeof endpoint !== "function") continueStream(entry, endpoint, body);
    this.#run(entry, endpoint, body);
  }

  /**
   * Shutdown, once no new requests come: waits up to `graceMs` for the requests in flight, then
   * cuts the work of the rest (nobody waits for it) and answers them `shutting_down`.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.#inFlight.size > 0) {
      await withinMs(new Promise<void>((resolve) => this.#idleWaiters.add(resolve)), graceMs);
    }
    const left = [...this.#inFlight]; // a copy: answering may finish requests
    for (const entry of left) entry.abandon.abort();
    const error = new LlmProviderError("shutting_down", "worker shut down before the request finished");
    for (const entry of left) this.#replies.replyError(entry, error);
    this.#inFlight.clear();
    this.#streams.close();
    this.#busy.flush();
  }

  #run(entry: InFlightRequest, endpoint: Handler | StreamEndpoint, body: unknown): void {
    this.#inFlight.add(entry);
    const context: RequestContext = {
      requestId: entry.requestId,
      requestIdFromCaller: entry.requestIdFromCaller,
      caller: entry.caller,
      receivedAt: entry.started,
      log: this.#loggerOf(entry.caller),
      signal: entry.abandon.signal,
      streamProtocol: entry.stream ? streamProtocolOf(entry.msg.headers?.get(HEADERS.streamProtocol)) : 1,
      traceparent: entry.msg.headers?.get(HEADERS.traceparent) || undefined,
      // No ambient context: the handler hands it on to what makes child spans.
      trace: entry.trace,
    };
    if (typeof endpoint !== "function") this.#streams.add(entry);
    // Counted in flight now. The first few of a turn start at once (their replies and events
    // share the turn's socket writes); the rest wait for later turns, after the socket reads at
    // hand: refusing is cheap and done first, starting a handler is not.
    if (this.#starting.length === 0 && this.#startedThisTurn < START_SLICE) {
      this.#startedThisTurn++;
      this.#scheduleStarts();
      this.#start(entry, endpoint, body, context);
      return;
    }
    this.#starting.push(() => this.#start(entry, endpoint, body, context));
    this.#scheduleStarts();
  }

  /** The next turn of the loop (setImmediate: after the pending I/O is read) starts a few more. */
  #scheduleStarts(): void {
    if (this.#startScheduled) return;
    this.#startScheduled = true;
    setImmediate(() => {
      this.#startScheduled = false;
      this.#startedThisTurn = 0;
      const starts = this.#starting.splice(0, START_SLICE);
      this.#startedThisTurn = starts.length;
      for (const start of starts) start();
      if (this.#starting.length > 0 || this.#startedThisTurn > 0) this.#scheduleStarts();
    });
  }

  #start(
    entry: InFlightRequest,
    endpoint: Handler | StreamEndpoint,
    body: unknown,
    context: RequestContext,
  ): void {
    if (entry.answered) return; // answered `shutting_down` by a drain before it started
    let running: Promise<unknown>;
    try {
      if (typeof endpoint === "function") {
        running = endpoint(body, context);
      } else {
        running = endpoint.handler(body, context, createStreamWriter(entry));
      }
    } catch (error) {
      running = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    running.then(
      (result) => {
        this.#replies.reply(entry, result);
        this.#finish(entry);
      },
      (error: unknown) => {
        this.#replies.replyError(entry, error);
        this.#finish(entry);
      },
    );
  }

  #finish(entry: InFlightRequest): void {
    this.#inFlight.delete(entry);
    if (entry.stream) this.#streams.delete(entry);
    if (this.#inFlight.size > 0) return;
    for (const resolve of this.#idleWaiters) resolve();
    this.#idleWaiters.clear();
  }

  #loggerOf(caller: string): Logger {
    let child = this.#callerLoggers.get(caller);
    if (!child) this.#callerLoggers.set(caller, (child = this.#options.logger.child({ caller })));
    return child;
  }
}

/** A stream that continues an earlier one takes its request id and numbers on after its last seq. */
function continueStream(entry: InFlightRequest, endpoint: StreamEndpoint, body: unknown): void {
  const continued = endpoint.continues?.(body);
  if (!continued || !entry.stream) return;
  entry.requestId = continued.requestId;
  entry.requestIdFromCaller = true;
  entry.stream.seq = continued.afterSeq + 1;
}

/** The `Stream-Protocol` a caller sent: a positive integer, else 1. */
function streamProtocolOf(header: string | undefined): number {
  const version = Number(header);
  return Number.isInteger(version) && version > 0 ? version : 1;
}
