import { createInbox, headers as createHeaders, errors as natsErrors, nuid } from "@nats-io/nats-core";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import type { z } from "zod";
import { ChatCompletionSchema, CompleteChatSchema } from "./chat.js";
import type { ChatCompletion, CompleteChatInput } from "./chat.js";
import { EmbeddingResultSchema, GenerateEmbeddingSchema } from "./embedding.js";
import type { EmbeddingResult, GenerateEmbeddingInput } from "./embedding.js";
import { ErrorEnvelopeSchema, LlmProviderError } from "./errors.js";
import { GetProviderHealthSchema, ProviderHealthReplySchema } from "./health.js";
import type { AggregateHealth, GetProviderHealth, ProviderHealth } from "./health.js";
import { ListAvailableModelsSchema, ModelListSchema } from "./models.js";
import type { ListAvailableModels, ModelList } from "./models.js";
import { chatJob, embeddingJob, submitChatJob, submitEmbeddingJob } from "./job-client.js";
import type { ChatJob, EmbeddingJob, SubmitChatJob, SubmitEmbeddingJob } from "./job-client.js";
import { GetSpendSchema, SpendReportSchema } from "./spend.js";
import type { GetSpend, SpendReport } from "./spend.js";
import { ResumeStreamSchema, StreamMessageSchema } from "./stream.js";
import type { StreamChunk, StreamDone, StreamMessage, StreamRestart } from "./stream.js";
import { HEADERS, REQUEST_ID_PATTERN, REQUEST_ID_RULE, STREAM_PROTOCOL, SUBJECTS } from "./subjects.js";
import { REFUSED_OPENAI_CHAT_FIELDS } from "./openai-fields.js";
import { parseRequest } from "./validation.js";

export interface CallOptions {
  /** How long to wait for the reply. The service is told to finish a little earlier. */
  timeoutMs?: number;
  /**
   * Caller's request id (1-128 characters, see `REQUEST_ID_PATTERN`); echoed back, and with the
   * caller's identity the key that de-duplicates events on retries.
   */
  requestId?: string;
  /** Extra NATS headers, e.g. `traceparent`. */
  headers?: Record<string, string>;
}

export interface LlmProviderClientOptions {
  /** Default reply timeouts per kind of call, in ms. */
  timeouts?: { chat?: number; embedding?: number; query?: number };
  /**
   * Where replies arrive: inboxes under this prefix (e.g. `_INBOX_ingest_batch` when the caller's
   * NATS user may subscribe to `_INBOX_ingest_batch.>` only, so that users sharing an account
   * cannot read each other's replies). Unset: the connection's own prefix (`connect({ inboxPrefix })`).
   */
  inboxPrefix?: string;
  /**
   * A `resumable` stream whose replies stop for this long (a lost connection, a reconnect that
   * lost messages) is resumed with `resume_stream` from the last seq received. Default 15 s.
   */
  streamIdleMs?: number;
}

const DEFAULT_TIMEOUTS = { chat: 120_000, embedding: 60_000, query: 5_000 };
const DEFAULT_STREAM_IDLE_MS = 15_000;
/** Resumes in a row that brought nothing new before a resumable stream gives up. */
const MAX_RESUMES_WITHOUT_PROGRESS = 5;
/** Time kept back so that the service's own deadline error reaches the caller before its timeout. */
const DEADLINE_MARGIN_MS = 250;

/**
 * A streamed chat completion: iterate it for the chunks; `done` resolves with the terminal message
 * and the whole answer's text once the stream finished. When the answering provider fails after
 * the answer began and another one takes over, iteration yields a `restart` message: in `restart`
 * mode drop the text received so far (the answer starts again), in `continue` mode keep it.
 * Iteration throws `LlmProviderError` when the stream ends in an error, loses a message, or stops
 * without a terminal message — a cut answer never looks complete. Leaving the loop early tells
 * the worker to stop (and stop paying for) the upstream call. A stream requested with
 * `resumable: true` survives a lost connection: when its replies stop or skip a seq, the client
 * resumes it (`resume_stream`) from the last seq it received and iteration goes on without a gap
 * or a duplicate.
 */
export interface ChatStream extends AsyncIterable<StreamChunk | StreamRestart> {
  readonly requestId: string;
  readonly done: Promise<ChatStreamResult>;
}

/** The terminal message of a finished stream, with the final answer's text (and reasoning) put together. */
export type ChatStreamResult = StreamDone & { content: string; reasoning_content?: string };

export interface LlmProviderClient {
  completeChat(request: CompleteChatInput, options?: CallOptions): Promise<ChatCompletion>;
  streamChat(request: CompleteChatInput, options?: CallOptions): ChatStream;
  /**
   * Continues this caller's resumable stream `requestId` after `afterSeq` (the last seq received,
   * -1 for all), e.g. from another connection or process: the same messages the stream sends from
   * there on. `done`'s `content` holds the text after `afterSeq`. Unknown or expired: `not_found`.
   */
  resumeChatStream(requestId: string, afterSeq: number, options?: Pick<CallOptions, "timeoutMs">): ChatStream;
  generateEmbedding(request: GenerateEmbeddingInput, options?: CallOptions): Promise<EmbeddingResult>;
  listModels(request?: ListAvailableModels, options?: CallOptions): Promise<ModelList>;
  /** The calling context's own spend in a UTC day or month, per model, with its budgets' use. */
  getSpend(request: GetSpend, options?: CallOptions): Promise<SpendReport>;
  getProviderHealth(
    request?: GetProviderHealth,
    options?: CallOptions,
  ): Promise<ProviderHealth | AggregateHealth>;
  /** A durable embedding job: items through JetStream, one result each, surviving worker crashes. */
  submitEmbeddingJob(request: SubmitEmbeddingJob): Promise<EmbeddingJob>;
  /** A handle on an embedding job submitted earlier (by this caller). */
  embeddingJob(jobId: string): EmbeddingJob;
  /** A durable chat job: one complete_chat request per item to one model (classification, extraction). */
  submitChatJob(request: SubmitChatJob): Promise<ChatJob>;
  /** A handle on a chat job submitted earlier (by this caller). */
  chatJob(jobId: string): ChatJob;
}

/** Typed client for the llm-provider service over an existing NATS connection. */
export function createLlmProviderClient(
  nc: NatsConnection,
  options: LlmProviderClientOptions = {},
): LlmProviderClient {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const { inboxPrefix } = options;
  const streamIdleMs = options.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS;

  async function call<R extends z.ZodType>(
    subject: string,
    body: unknown,
    replySchema: R,
    timeoutMs: number,
    callOptions: CallOptions,
  ): Promise<z.infer<R>> {
    const hdrs = requestHeaders(callOptions, callOptions.requestId);
    const payload = encodeRequest(nc, subject, body);
    let reply: Msg;
    try {
      reply = await nc.request(subject, payload, {
        timeout: timeoutMs,
        headers: hdrs,
        ...(inboxPrefix === undefined ? {} : { noMux: true, reply: createInbox(inboxPrefix) }),
      });
    } catch (error) {
      throw toTransportError(subject, timeoutMs, error);
    }
    return decodeReply(reply, replySchema);
  }

  function jobCall<R extends z.ZodType>(subject: string, body: unknown, replySchema: R): Promise<z.infer<R>> {
    return call(subject, body, replySchema, timeouts.query, {});
  }

  /** Fills in `timeout_ms` so the service gives up (and says so) just before this client does. */
  function withDeadline<T extends { timeout_ms?: number | undefined }>(request: T, timeoutMs: number): T {
    if (request.timeout_ms !== undefined) return request;
    return { ...request, timeout_ms: Math.max(100, timeoutMs - DEADLINE_MARGIN_MS) };
  }

  return {
    async completeChat(request, callOptions = {}) {
      const timeoutMs = callOptions.timeoutMs ?? timeouts.chat;
      const body = withDeadline(
        parseRequest(CompleteChatSchema, request, REFUSED_OPENAI_CHAT_FIELDS),
        timeoutMs,
      );
      return await call(SUBJECTS.completeChat, body, ChatCompletionSchema, timeoutMs, callOptions);
    },
    streamChat(request, callOptions = {}) {
      const timeoutMs = callOptions.timeoutMs ?? timeouts.chat;
      const requestId = callOptions.requestId ?? nuid.next();
      const source = { nc, requestId, timeoutMs, inboxPrefix, idleMs: streamIdleMs };
      const send = (deadline: number) => sendStreamRequest(request, callOptions, source, deadline);
      return openChatStream(source, (deadline) =>
        request.resumable === true
          ? resumably(source, deadline, -1, () => send(deadline))
          : inOrder(send(deadline), timeoutMs),
      );
    },
    resumeChatStream(requestId, afterSeq, callOptions = {}) {
      const timeoutMs = callOptions.timeoutMs ?? timeouts.chat;
      const source = { nc, requestId, timeoutMs, inboxPrefix, idleMs: streamIdleMs };
      return openChatStream(source, (deadline) =>
        resumably(source, deadline, afterSeq, () => sendResumeRequest(source, afterSeq, deadline)),
      );
    },
    async generateEmbedding(request, callOptions = {}) {
      const timeoutMs = callOptions.timeoutMs ?? timeouts.embedding;
      const body = withDeadline(parseRequest(GenerateEmbeddingSchema, request), timeoutMs);
      return await call(SUBJECTS.generateEmbedding, body, EmbeddingResultSchema, timeoutMs, callOptions);
    },
    async listModels(request = {}, callOptions = {}) {
      const body = parseRequest(ListAvailableModelsSchema, request);
      return await call(
        SUBJECTS.listModels,
        body,
        ModelListSchema,
        callOptions.timeoutMs ?? timeouts.query,
        callOptions,
      );
    },
    async getSpend(request, callOptions = {}) {
      const body = parseRequest(GetSpendSchema, request);
      const timeoutMs = callOptions.timeoutMs ?? timeouts.query;
      return await call(SUBJECTS.getSpend, body, SpendReportSchema, timeoutMs, callOptions);
    },
    async getProviderHealth(request = {}, callOptions = {}) {
      const body = parseRequest(GetProviderHealthSchema, request);
      const timeoutMs = callOptions.timeoutMs ?? timeouts.query;
      return await call(SUBJECTS.getProviderHealth, body, ProviderHealthReplySchema, timeoutMs, callOptions);
    },
    submitEmbeddingJob(request) {
      return submitEmbeddingJob(nc, jobCall, request, inboxPrefix);
    },
    embeddingJob(jobId) {
      return embeddingJob(jobCall, jobId);
    },
    submitChatJob(request) {
      return submitChatJob(nc, jobCall, request, inboxPrefix);
    },
    chatJob(jobId) {
      return chatJob(jobCall, jobId);
    },
  };
}

/** The request's headers: the caller's own, and the `Request-Id` once checked. */
function requestHeaders(callOptions: CallOptions, requestId: string | undefined) {
  if (requestId !== undefined && !REQUEST_ID_PATTERN.test(requestId)) {
    throw new LlmProviderError("invalid_request", `requestId must be ${REQUEST_ID_RULE}`, {
      field: HEADERS.requestId,
    });
  }
  const hdrs = createHeaders();
  if (requestId !== undefined) hdrs.set(HEADERS.requestId, requestId);
  for (const [name, value] of Object.entries(callOptions.headers ?? {})) hdrs.set(name, value);
  return hdrs;
}

/**
 * The replies to one streamed request, up to the empty sentinel or `maxWait`. With an inbox
 * prefix of the client's own, a subscription of its own (nats.js's `requestMany` takes the
 * connection's prefix only); either way no responders is an error, as with `requestMany`.
 */
async function requestStream(
  nc: NatsConnection,
  subject: string,
  body: Uint8Array,
  options: { headers: ReturnType<typeof createHeaders>; maxWait: number; inboxPrefix: string | undefined },
): Promise<AsyncIterable<Msg>> {
  const { headers, maxWait, inboxPrefix } = options;
  if (inboxPrefix === undefined)
    return nc.requestMany(subject, body, { strategy: "sentinel", maxWait, headers });
  const inbox = createInbox(inboxPrefix);
  const replies = nc.subscribe(inbox);
  const timer = setTimeout(() => replies.unsubscribe(), maxWait);
  nc.publish(subject, body, { reply: inbox, headers });
  return (async function* () {
    try {
      for await (const msg of replies) {
        if (msg.data.length === 0) {
          if (msg.headers?.status === "503") throw new natsErrors.NoRespondersError(subject);
          return; // the sentinel
        }
        yield msg;
      }
    } finally {
      clearTimeout(timer);
      replies.unsubscribe();
    }
  })();
}

/** Where a stream's messages come from, and where its cancel goes. */
interface StreamSource {
  nc: NatsConnection;
  requestId: string;
  timeoutMs: number;
  inboxPrefix: string | undefined;
  /** Silence after which a resumable stream is resumed. */
  idleMs: number;
}

/**
 * A chat stream read from `messages` (given the time by which it must end): the answer put
 * together, the terminal message turned into `done` or a thrown error, and a cancel sent when the
 * caller stops early.
 */
function openChatStream(
  source: Pick<StreamSource, "nc" | "requestId" | "timeoutMs">,
  messages: (deadline: number) => AsyncIterable<StreamMessage>,
): ChatStream {
  const { nc, requestId } = source;
  const done = promiseWithResolvers<ChatStreamResult>();
  // Nobody may be awaiting `done` when iteration fails; the error reaches the loop either way.
  done.promise.catch(() => undefined);

  async function* iterate(): AsyncGenerator<StreamChunk | StreamRestart> {
    let finished = false;
    let content = "";
    let reasoning: string | undefined;
    try {
      for await (const message of messages(Date.now() + source.timeoutMs)) {
        if (message.type === "chunk") {
          content += message.delta.content ?? "";
          if (message.delta.reasoning_content !== undefined)
            reasoning = (reasoning ?? "") + message.delta.reasoning_content;
          yield message;
        } else if (message.type === "restart") {
          if (message.mode === "restart") {
            content = "";
            reasoning = undefined;
          }
          yield message;
        } else if (message.type === "done") {
          finished = true;
          done.resolve(
            reasoning === undefined
              ? { ...message, content }
              : { ...message, content, reasoning_content: reasoning },
          );
          return;
        } else {
          finished = true;
          throw LlmProviderError.fromBody(message.error);
        }
      }
      throw new LlmProviderError(
        "request_timeout",
        `stream on ${SUBJECTS.streamChat} ended without a terminal message`,
      );
    } catch (error) {
      done.reject(error);
      throw error;
    } finally {
      if (!finished) {
        // The caller stopped reading (or the stream broke): tell the worker to stop the upstream call.
        publishCancel(nc, requestId);
        done.reject(new LlmProviderError("request_timeout", "stream was not read to its end"));
      }
    }
  }

  return { requestId, done: done.promise, [Symbol.asyncIterator]: iterate };
}

/** The messages of a stream that is not resumable: each must be the next one, up to the sentinel. */
async function* inOrder(
  replies: Promise<AsyncIterable<Msg>>,
  timeoutMs: number,
): AsyncGenerator<StreamMessage> {
  let expectedSeq = 0;
  for await (const msg of withTransportErrors(await replies, timeoutMs)) {
    if (msg.data.length === 0) return; // the sentinel
    const message = decodeStreamMessage(msg);
    if (message.seq !== expectedSeq) {
      throw new LlmProviderError(
        "internal",
        `stream lost messages: expected seq ${expectedSeq}, got ${message.seq}`,
      );
    }
    expectedSeq++;
    yield message;
  }
}

/**
 * The messages of a resumable stream after `afterSeq`, each once and in order: whenever the
 * replies skip a seq, stop, or end without the terminal message, the rest is asked for again
 * with `resume_stream` from the last seq received (any worker answers it). Gives up after
 * MAX_RESUMES_WITHOUT_PROGRESS resumes in a row that brought nothing, or at the deadline.
 */
async function* resumably(
  source: StreamSource,
  deadline: number,
  afterSeq: number,
  first: () => Promise<AsyncIterable<Msg>>,
): AsyncGenerator<StreamMessage> {
  let next = afterSeq + 1;
  let fruitless = 0;
  let open = first;
  let lastError: LlmProviderError | undefined;
  for (;;) {
    let progressed = false;
    let replies: AsyncIterator<Msg> | undefined;
    try {
      replies = (await open())[Symbol.asyncIterator]();
      for (;;) {
        const step = await nextWithin(replies, source.idleMs);
        if (step === "idle" || step.done === true || step.value.data.length === 0) break;
        const message = decodeResumedMessage(step.value, next);
        if (message.seq < next) continue; // already received before a resume
        if (message.seq > next) break; // messages were lost: resume from the last one received
        next++;
        progressed = true;
        yield message;
        if (message.type === "done" || message.type === "error") return;
      }
    } catch (error) {
      // No worker, no connection (a reconnect) or no JetStream leader right now: resume again.
      // Any other typed error (a refusal, `not_found`) is the answer.
      const typed = error instanceof LlmProviderError ? error : undefined;
      if (typed && !TRANSIENT_STREAM_ERRORS.has(typed.code)) throw typed;
      lastError =
        typed ?? new LlmProviderError("service_unavailable", `stream replies failed: ${String(error)}`);
    } finally {
      void replies?.return?.();
    }
    fruitless = progressed ? 0 : fruitless + 1;
    const hopeless = source.nc.isClosed() || fruitless > MAX_RESUMES_WITHOUT_PROGRESS;
    if (hopeless || Date.now() >= deadline) {
      throw (
        lastError ??
        new LlmProviderError(
          "request_timeout",
          `stream ${source.requestId} could not be resumed after seq ${next - 1}`,
        )
      );
    }
    // Back off a little when resuming brings nothing (a connection still coming back).
    if (fruitless > 1) await delay(Math.min(source.idleMs, 50 * 2 ** fruitless));
    open = () => sendResumeRequest(source, next - 1, deadline);
  }
}

/** Transport errors after which a resumable stream is resumed rather than failed. */
const TRANSIENT_STREAM_ERRORS = new Set<string>([
  "service_unavailable",
  "request_timeout",
  "state_unavailable",
]);

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The next reply, or "idle" when none comes within `ms`. */
async function nextWithin(replies: AsyncIterator<Msg>, ms: number): Promise<IteratorResult<Msg> | "idle"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<"idle">((resolve) => (timer = setTimeout(() => resolve("idle"), ms)));
  try {
    return await Promise.race([replies.next(), idle]);
  } finally {
    clearTimeout(timer);
  }
}

/** `Promise.withResolvers`, which Node 20 lacks. */
function promiseWithResolvers<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((resolveWith, rejectWith) => {
    resolve = resolveWith;
    reject = rejectWith;
  });
  return { promise, resolve, reject };
}

/** Checks the request, asks for the stream protocol and sends it; transport failures come back typed. */
async function sendStreamRequest(
  request: CompleteChatInput,
  callOptions: CallOptions,
  source: StreamSource,
  deadline: number,
): Promise<AsyncIterable<Msg>> {
  const { nc, requestId, timeoutMs, inboxPrefix } = source;
  const body = { ...parseRequest(CompleteChatSchema, request, REFUSED_OPENAI_CHAT_FIELDS) };
  body.timeout_ms ??= Math.max(100, timeoutMs - DEADLINE_MARGIN_MS);
  const hdrs = requestHeaders(callOptions, requestId);
  hdrs.set(HEADERS.streamProtocol, String(STREAM_PROTOCOL));
  const payload = encodeRequest(nc, SUBJECTS.streamChat, body);
  try {
    return await requestStream(nc, SUBJECTS.streamChat, payload, {
      headers: hdrs,
      maxWait: Math.max(1, deadline - Date.now()),
      inboxPrefix,
    });
  } catch (error) {
    throw toTransportError(SUBJECTS.streamChat, timeoutMs, error);
  }
}

/** Asks for the messages of the stream after `afterSeq`, up to its end or the deadline. */
async function sendResumeRequest(
  source: StreamSource,
  afterSeq: number,
  deadline: number,
): Promise<AsyncIterable<Msg>> {
  const { nc, requestId, timeoutMs, inboxPrefix } = source;
  const body = parseRequest(ResumeStreamSchema, { request_id: requestId, after_seq: afterSeq });
  const hdrs = requestHeaders({}, requestId);
  hdrs.set(HEADERS.streamProtocol, String(STREAM_PROTOCOL));
  try {
    return await requestStream(nc, SUBJECTS.resumeStream, encodeRequest(nc, SUBJECTS.resumeStream, body), {
      headers: hdrs,
      maxWait: Math.max(1, deadline - Date.now()),
      inboxPrefix,
    });
  } catch (error) {
    throw toTransportError(SUBJECTS.resumeStream, timeoutMs, error);
  }
}

/**
 * The request as bytes, refused with `payload_too_large` when the server could not take it as one
 * message (its `max_payload`): the caller learns why and what to do, not a transport error.
 */
export function encodeRequest(nc: NatsConnection, subject: string, body: unknown): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const maxPayload = nc.info?.max_payload;
  if (maxPayload !== undefined && bytes.length > maxPayload)
    throw new LlmProviderError(
      "payload_too_large",
      `the ${subject} request is ${bytes.length} bytes, over the NATS server's max_payload of ${maxPayload}: ` +
        "send large images and files by URL (image_url.url, file.file_url) for a provider that fetches them",
      { details: { bytes: bytes.length, max_payload: maxPayload } },
    );
  return bytes;
}

/** One stream message, checked against the contract. */
function decodeStreamMessage(msg: Msg): StreamMessage {
  const errorCode = msg.headers?.get("Nats-Service-Error-Code");
  if (errorCode) decodeReply(msg, StreamMessageSchema); // a refusal before streaming began: throws it typed
  const parsed = StreamMessageSchema.safeParse(msg.json());
  if (!parsed.success) throw new LlmProviderError("internal", "stream message does not match the contract");
  return parsed.data;
}

/**
 * One message of a resumable stream: the expected one as it is, even the stream's own terminal
 * `error` (a resume replays it, and it is final); anything else as `decodeStreamMessage` reads it,
 * so that a refusal of the request itself (`not_found`, `busy`) is thrown typed.
 */
function decodeResumedMessage(msg: Msg, next: number): StreamMessage {
  const parsed = StreamMessageSchema.safeParse(parseJsonOrUndefined(msg));
  if (parsed.success && parsed.data.seq === next) return parsed.data;
  return decodeStreamMessage(msg);
}

function parseJsonOrUndefined(msg: Msg): unknown {
  try {
    return msg.json();
  } catch {
    return undefined;
  }
}

function publishCancel(nc: NatsConnection, requestId: string): void {
  try {
    nc.publish(SUBJECTS.cancelStream, JSON.stringify({ request_id: requestId }));
  } catch {
    // The connection is closed: there is nobody left to tell.
  }
}

/** Errors of the reply iteration itself (no responders) as the typed client's transport errors. */
async function* withTransportErrors(replies: AsyncIterable<Msg>, timeoutMs: number): AsyncGenerator<Msg> {
  try {
    yield* replies;
  } catch (error) {
    throw toTransportError(SUBJECTS.streamChat, timeoutMs, error);
  }
}

/** Decodes a service reply: a typed error (service error headers + JSON envelope) or a checked result. */
export function decodeReply<R extends z.ZodType>(reply: Msg, replySchema: R): z.infer<R> {
  const errorCode = reply.headers?.get("Nats-Service-Error-Code");
  let json: unknown;
  try {
    json = reply.json();
  } catch (cause) {
    throw new LlmProviderError("internal", "reply is not JSON", { cause });
  }
  if (errorCode !== undefined && errorCode !== "") {
    const envelope = ErrorEnvelopeSchema.safeParse(json);
    if (envelope.success) throw LlmProviderError.fromBody(envelope.data.error);
    const description = reply.headers?.get("Nats-Service-Error") ?? "unknown error";
    throw new LlmProviderError("internal", `service error ${errorCode}: ${description}`);
  }
  const result = replySchema.safeParse(json);
  if (!result.success) {
    throw new LlmProviderError("internal", "reply does not match the contract", { cause: result.error });
  }
  return result.data;
}

export function toTransportError(subject: string, timeoutMs: number, error: unknown): LlmProviderError {
  const cause = error instanceof natsErrors.RequestError ? (error.cause ?? error) : error;
  if (
    cause instanceof natsErrors.NoRespondersError ||
    (error instanceof natsErrors.RequestError && error.isNoResponders())
  ) {
    return new LlmProviderError("service_unavailable", `no llm-provider worker answers ${subject}`, {
      cause: error,
    });
  }
  if (cause instanceof natsErrors.TimeoutError) {
    return new LlmProviderError("request_timeout", `no reply on ${subject} within ${timeoutMs} ms`, {
      cause: error,
    });
  }
  return new LlmProviderError("service_unavailable", `request on ${subject} failed: ${String(error)}`, {
    cause: error,
  });
}
