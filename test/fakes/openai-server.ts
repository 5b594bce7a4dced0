// A local stand-in for api.openai.com that speaks the real REST wire format (bodies, headers, SSE,
// error envelopes), so production code can be driven through the official `openai` SDK in tests.
// It also serves benchmarks, so the hot path avoids logging and needless work.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen-on-loopback.js";

export interface RecordedRequest {
  method: string;
  /** URL path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined when there was none or it was not valid JSON. */
  body: unknown;
}

export type FakeBehavior =
  /** An explicit JSON response. */
  | { kind: "reply"; status?: number; headers?: Record<string, string>; body: unknown }
  /** An OpenAI error envelope `{"error":{"message","type","param","code"}}`; unset fields get per-status defaults. */
  | {
      kind: "error";
      status: number;
      type?: string;
      code?: string | null;
      message?: string;
      param?: string | null;
      headers?: Record<string, string>;
    }
  /** Wait, then do `then` (default: the normal answer). */
  | { kind: "delay"; ms: number; then?: FakeBehavior }
  /** Never answer; the socket stays open until the client gives up or the server closes. */
  | { kind: "hang" }
  /** Destroy the socket before sending any response headers. */
  | { kind: "reset" }
  /** 200 with `content-type: application/json` and a body that is not valid JSON. */
  | { kind: "malformed"; body?: string }
  /** The normal answer for the path. */
  | { kind: "default" }
  /**
   * A chat stream that goes wrong after `after` SSE events (the first is the role chunk):
   * `cut` destroys the socket, `stall` goes silent with the socket open, `malformed` sends a data
   * line that is not JSON, `no_done` sends everything but `[DONE]` and closes, `hold_open` sends
   * everything but `[DONE]` and keeps the socket open.
   */
  | { kind: "stream_fault"; after: number; fault: "cut" | "stall" | "malformed" | "no_done" | "hold_open" }
  /**
   * The normal answer, but slow: a stream sends its headers and the role chunk at once and the rest
   * `ms` later (a slow first token); a non-streamed answer sends its headers and half its body
   * at once and the rest `ms` later (a body that stalls, then goes on).
   */
  | { kind: "slow_body"; ms: number }
  /** The normal answer's headers and first part (half a JSON body, or the role chunk), then the socket is cut. */
  | { kind: "cut_body" };

export interface FakeChatReply {
  /** Reply text; `undefined` keeps the echo, `null` sends no content (e.g. with tool calls). */
  content?: string | null;
  finish_reason?: string;
  tool_calls?: unknown[];
  function_call?: unknown;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export interface FakeOpenAIServer {
  /** `http://127.0.0.1:PORT/v1` — pass as the SDK's `baseURL`. */
  baseUrl: string;
  port: number;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** One behavior per upcoming request (FIFO); when the queue is empty the default answer is used. */
  enqueue(...behaviors: FakeBehavior[]): void;
  /** Changes the default chat answer. */
  setChatReply(reply: FakeChatReply): void;
  /** Every request for `model` gets `behavior` (undefined: as any other) until reset. */
  setModelBehavior(model: string, behavior: FakeBehavior | undefined): void;
  /** Clears the queue, the recorded requests and the custom chat reply. */
  reset(): void;
  /** Closes the server and destroys all open sockets, including hanging requests. */
  close(): Promise<void>;
}

export interface FakeOpenAIServerOptions {
  /** When set, requests without `Authorization: Bearer <apiKey>` get OpenAI's 401 error. */
  apiKey?: string;
  /** Record requests in `requests` (default true). Benchmarks can turn it off to keep memory flat. */
  recordRequests?: boolean;
  /** Answer every request without a queued behavior this much later (requests stay in flight). */
  defaultDelayMs?: number;
}

interface OpenAIErrorFields {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

interface HttpError {
  status: number;
  error: OpenAIErrorFields;
  headers?: Record<string, string>;
}

/** One request being answered. */
interface Exchange {
  method: string;
  path: string;
  body: unknown;
  req: IncomingMessage;
  res: ServerResponse;
  startedAt: number;
}

interface ServerState {
  queue: FakeBehavior[];
  requests: RecordedRequest[];
  chatReply: FakeChatReply | undefined;
  /** What every request for a model gets, before the queue is looked at (`setModelBehavior`). */
  modelBehaviors: Map<string, FakeBehavior>;
  /** Pending `delay` timers, cleared on close so nothing fires afterwards. */
  timers: Set<NodeJS.Timeout>;
  ids: IdGenerator;
  options: FakeOpenAIServerOptions;
}

const DEFAULT_EMBEDDING_DIMENSIONS = 8;
const SYSTEM_FINGERPRINT = "fp_fake";
const DEFAULT_MALFORMED_BODY = '{"id":"chatcmpl-malformed","object":"chat.completion","choices":[{';
const MODEL_IDS = [
  "gpt-4o-mini",
  "gpt-4o",
  "gpt-4.1-mini",
  "text-embedding-3-small",
  "text-embedding-3-large",
];
const MODELS_CREATED = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Small helpers

type JsonObject = Record<string, unknown>;

function asObject(value: unknown): JsonObject | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Request-unique ids in OpenAI's shapes (`req_<32 hex>`, `chatcmpl-…`) without per-request crypto. */
class IdGenerator {
  private readonly prefix = randomBytes(8).toString("hex");
  private counter = 0;

  next(): string {
    this.counter += 1;
    return this.prefix + this.counter.toString(16).padStart(16, "0");
  }
}

/**
 * Splits text into one piece per word (whitespace stays attached), so that `pieces.join("") === text`.
 * The fake counts one completion token per piece and streams one piece per chunk.
 */
function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}

/** Deterministic stand-in for a tokenizer: a token per 4 characters, at least 1. */
function estimateTokens(charCount: number): number {
  return Math.max(1, Math.ceil(charCount / 4));
}

/** The text of a chat message: a string `content`, or the `text` of its content parts. */
function messageText(message: unknown): string {
  const content = asObject(message)?.["content"];
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const part of content) {
    const partText = asObject(part)?.["text"];
    if (typeof partText === "string") text += partText;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Errors (OpenAI's envelope and its usual messages)

const ERROR_DEFAULTS: Record<number, Omit<OpenAIErrorFields, "param">> = {
  400: { type: "invalid_request_error", code: null, message: "Bad request." },
  401: { type: "invalid_request_error", code: "invalid_api_key", message: "Incorrect API key provided." },
  403: { type: "invalid_request_error", code: null, message: "You are not allowed to perform this request." },
  404: {
    type: "invalid_request_error",
    code: "model_not_found",
    message: "The model does not exist or you do not have access to it.",
  },
  429: {
    type: "requests",
    code: "rate_limit_exceeded",
    message: "Rate limit reached for requests. Please try again later.",
  },
  500: {
    type: "server_error",
    code: null,
    message: "The server had an error while processing your request. Sorry about that!",
  },
  503: {
    type: "server_error",
    code: null,
    message: "The engine is currently overloaded, please try again later.",
  },
};

function errorFromBehavior(behavior: Extract<FakeBehavior, { kind: "error" }>): HttpError {
  const fallback = ERROR_DEFAULTS[behavior.status] ?? {
    type: behavior.status >= 500 ? "server_error" : "invalid_request_error",
    code: null,
    message: `Fake error with status ${behavior.status}.`,
  };
  return {
    status: behavior.status,
    error: {
      message: behavior.message ?? fallback.message,
      type: behavior.type ?? fallback.type,
      param: behavior.param ?? null,
      code: behavior.code === undefined ? fallback.code : behavior.code,
    },
    ...(behavior.headers ? { headers: behavior.headers } : {}),
  };
}

function invalidRequest(message: string, param: string | null = null, code: string | null = null): HttpError {
  return { status: 400, error: { message, type: "invalid_request_error", param, code } };
}

function missingParameter(name: string): HttpError {
  return invalidRequest(`Missing required parameter: '${name}'.`, name, "missing_required_parameter");
}

const INVALID_JSON_BODY = invalidRequest(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP " +
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
);

const MISSING_MODEL = invalidRequest("you must provide a model parameter");

const INTERNAL_ERROR_BODY = JSON.stringify({
  error: {
    message: "The fake server failed to handle the request.",
    type: "server_error",
    param: null,
    code: null,
  },
});

function maskApiKey(key: string): string {
  return key.length > 8
    ? `${key.slice(0, 3)}${"*".repeat(Math.min(key.length - 7, 20))}${key.slice(-4)}`
    : "***";
}

/** OpenAI's two 401 flavours: no bearer token at all, or a wrong one. */
function checkApiKey(expected: string | undefined, authorization: string | undefined): HttpError | undefined {
  if (expected === undefined) return undefined;
  const presented = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
  if (presented === expected) return undefined;
  if (presented === undefined) {
    const message =
      "You didn't provide an API key. You need to provide your API key in an Authorization header using " +
      "Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from " +
      "https://platform.openai.com/account/api-keys.";
    return { status: 401, error: { message, type: "invalid_request_error", param: null, code: null } };
  }
  const message =
    `Incorrect API key provided: ${maskApiKey(presented)}. ` +
    "You can find your API key at https://platform.openai.com/account/api-keys.";
  return {
    status: 401,
    error: { message, type: "invalid_request_error", param: null, code: "invalid_api_key" },
  };
}

// ---------------------------------------------------------------------------------------------
// Writing responses

function responseHeaders(
  state: ServerState,
  exchange: Exchange,
  contentType: string,
  extra: Record<string, string> | undefined,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    "content-type": contentType,
    "x-request-id": `req_${state.ids.next()}`,
    "openai-processing-ms": String(Date.now() - exchange.startedAt),
    "openai-version": "2020-10-01",
  };
  // Lower-cased so a caller's header replaces ours instead of being sent twice.
  if (extra) for (const [name, value] of Object.entries(extra)) headers[name.toLowerCase()] = value;
  return headers;
}

function sendRaw(
  state: ServerState,
  exchange: Exchange,
  status: number,
  contentType: string,
  payload: string,
  extra?: Record<string, string>,
): void {
  const { res } = exchange;
  if (res.destroyed || exchange.req.socket.destroyed) return; // the client went away (e.g. during a delay)
  const headers = responseHeaders(state, exchange, contentType, extra);
  headers["content-length"] = Buffer.byteLength(payload);
  res.writeHead(status, headers);
  res.end(payload);
}

/** SSE goes out chunked, without content-length, as OpenAI sends it (written in one go, for speed). */
function sendEventStream(state: ServerState, exchange: Exchange, events: string): void {
  const { res } = exchange;
  if (res.destroyed || exchange.req.socket.destroyed) return;
  res.writeHead(200, responseHeaders(state, exchange, "text/event-stream; charset=utf-8", undefined));
  res.write(events);
  res.end();
}

function sendJson(
  state: ServerState,
  exchange: Exchange,
  status: number,
  body: unknown,
  extra?: Record<string, string>,
): void {
  sendRaw(state, exchange, status, "application/json", JSON.stringify(body) ?? "null", extra);
}

function sendError(state: ServerState, exchange: Exchange, error: HttpError): void {
  sendJson(state, exchange, error.status, { error: error.error }, error.headers);
}

// ---------------------------------------------------------------------------------------------
// POST /v1/chat/completions

/** What the fake will answer to one chat request, before it is put into wire shape. */
interface ChatPlan {
  id: string;
  created: number;
  model: string;
  content: string | null;
  /** `content` split into words: one streamed chunk and one completion token each. */
  contentPieces: string[];
  finishReason: string;
  toolCalls: unknown[] | undefined;
  functionCall: unknown;
  promptTokens: number;
  completionTokens: number;
}

function maxTokensOf(request: JsonObject): number | undefined {
  const limit = request["max_completion_tokens"] ?? request["max_tokens"];
  return typeof limit === "number" ? limit : undefined;
}

function defaultFinishReason(custom: FakeChatReply | undefined): string {
  if (custom?.finish_reason) return custom.finish_reason;
  if (custom?.tool_calls?.length) return "tool_calls";
  if (custom?.function_call !== undefined) return "function_call";
  return "stop";
}

function planChat(state: ServerState, request: JsonObject, model: string, messages: unknown[]): ChatPlan {
  const custom = state.chatReply;
  let promptChars = 0;
  for (const message of messages) promptChars += messageText(message).length;

  let content =
    custom?.content !== undefined ? custom.content : `echo: ${messageText(messages[messages.length - 1])}`;
  let contentPieces = content === null ? [] : splitWords(content);
  let finishReason = defaultFinishReason(custom);

  const limit = maxTokensOf(request);
  if (content !== null && limit !== undefined && limit < contentPieces.length) {
    contentPieces = contentPieces.slice(0, Math.max(0, limit));
    const last = contentPieces.length - 1;
    if (last >= 0) contentPieces[last] = (contentPieces[last] ?? "").trimEnd(); // no dangling space at the cut
    content = contentPieces.join("");
    finishReason = "length";
  }

  const toolTokens = custom?.tool_calls ? estimateTokens(JSON.stringify(custom.tool_calls).length) : 0;
  return {
    id: `chatcmpl-${state.ids.next()}`,
    created: nowSeconds(),
    model,
    content,
    contentPieces,
    finishReason,
    toolCalls: custom?.tool_calls,
    functionCall: custom?.function_call,
    promptTokens: custom?.usage?.prompt_tokens ?? estimateTokens(promptChars),
    completionTokens: custom?.usage?.completion_tokens ?? contentPieces.length + toolTokens,
  };
}

function usageOf(plan: ChatPlan): JsonObject {
  return {
    prompt_tokens: plan.promptTokens,
    completion_tokens: plan.completionTokens,
    total_tokens: plan.promptTokens + plan.completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

function chatCompletionBody(plan: ChatPlan): JsonObject {
  const message: JsonObject = { role: "assistant", content: plan.content, refusal: null };
  if (plan.toolCalls) message["tool_calls"] = plan.toolCalls;
  if (plan.functionCall !== undefined) message["function_call"] = plan.functionCall;
  return {
    id: plan.id,
    object: "chat.completion",
    created: plan.created,
    model: plan.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index: 0, message, logprobs: null, finish_reason: plan.finishReason }],
    usage: usageOf(plan),
  };
}

/** Tool calls stream as OpenAI sends them: id, type and name first, then the arguments. */
function toolCallDeltas(toolCalls: unknown[]): JsonObject[] {
  const deltas: JsonObject[] = [];
  toolCalls.forEach((toolCall, index) => {
    const call = asObject(toolCall) ?? {};
    const fn = asObject(call["function"]);
    if (!fn || typeof fn["name"] !== "string") {
      deltas.push({ tool_calls: [{ index, ...call }] });
      return;
    }
    const header = {
      index,
      id: call["id"],
      type: call["type"] ?? "function",
      function: { name: fn["name"], arguments: "" },
    };
    const args =
      typeof fn["arguments"] === "string" ? fn["arguments"] : JSON.stringify(fn["arguments"] ?? "");
    deltas.push({ tool_calls: [header] }, { tool_calls: [{ index, function: { arguments: args } }] });
  });
  return deltas;
}

function functionCallDeltas(functionCall: unknown): JsonObject[] {
  const fn = asObject(functionCall) ?? {};
  const args = typeof fn["arguments"] === "string" ? fn["arguments"] : "";
  return [{ function_call: { name: fn["name"], arguments: "" } }, { function_call: { arguments: args } }];
}

/** The SSE events of a chat stream: one `data:` event per chunk, then `[DONE]`. */
function chatStreamEvents(plan: ChatPlan, includeUsage: boolean): string[] {
  const base = {
    id: plan.id,
    object: "chat.completion.chunk",
    created: plan.created,
    model: plan.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
  // With include_usage every chunk carries `"usage": null` and a last chunk carries the usage.
  const usageField = includeUsage ? { usage: null } : {};
  const event = (delta: JsonObject, finishReason: string | null = null): string =>
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }], ...usageField })}\n\n`;

  const events = [event({ role: "assistant", content: plan.content === null ? null : "", refusal: null })];
  for (const piece of plan.contentPieces) events.push(event({ content: piece }));
  if (plan.toolCalls) for (const delta of toolCallDeltas(plan.toolCalls)) events.push(event(delta));
  if (plan.functionCall !== undefined)
    for (const delta of functionCallDeltas(plan.functionCall)) events.push(event(delta));
  events.push(event({}, plan.finishReason));
  if (includeUsage)
    events.push(`data: ${JSON.stringify({ ...base, choices: [], usage: usageOf(plan) })}\n\n`);
  events.push("data: [DONE]\n\n");
  return events;
}

/** The whole SSE body at once. */
function chatStreamBody(plan: ChatPlan, includeUsage: boolean): string {
  return chatStreamEvents(plan, includeUsage).join("");
}

/** A stream that breaks as `behavior` says (see `stream_fault`). */
function answerChatStreamWithFault(
  state: ServerState,
  exchange: Exchange,
  behavior: Extract<FakeBehavior, { kind: "stream_fault" }>,
): void {
  const request = asObject(exchange.body) ?? {};
  const model = typeof request["model"] === "string" ? request["model"] : "unknown";
  const messages = Array.isArray(request["messages"]) ? request["messages"] : [];
  const includeUsage = asObject(request["stream_options"])?.["include_usage"] === true;
  const events = chatStreamEvents(planChat(state, request, model, messages), includeUsage);
  const { res } = exchange;
  res.writeHead(200, responseHeaders(state, exchange, "text/event-stream; charset=utf-8", undefined));
  switch (behavior.fault) {
    case "cut":
      res.write(events.slice(0, behavior.after).join(""), () => exchange.req.socket.destroy());
      return;
    case "stall":
      res.write(events.slice(0, behavior.after).join(""));
      return; // close() destroys the socket
    case "malformed":
      res.end(
        events.slice(0, behavior.after).join("") +
          "data: {this is not json\n\n" +
          events.slice(behavior.after).join(""),
      );
      return;
    case "no_done":
      res.end(events.slice(0, -1).join(""));
      return;
    case "hold_open":
      res.write(events.slice(0, -1).join(""));
      return;
  }
}

/** The normal chat answer with a pause after its first part (`slow_body`), or cut there (`cut_body`). */
function answerChatSlowly(state: ServerState, exchange: Exchange, ms: number | "cut"): void {
  const request = asObject(exchange.body) ?? {};
  const model = typeof request["model"] === "string" ? request["model"] : "unknown";
  const messages = Array.isArray(request["messages"]) ? request["messages"] : [];
  const plan = planChat(state, request, model, messages);
  const { res } = exchange;
  let first: string;
  let rest: string;
  if (request["stream"] === true) {
    const includeUsage = asObject(request["stream_options"])?.["include_usage"] === true;
    const events = chatStreamEvents(plan, includeUsage);
    res.writeHead(200, responseHeaders(state, exchange, "text/event-stream; charset=utf-8", undefined));
    [first, rest] = [events[0]!, events.slice(1).join("")];
  } else {
    const body = JSON.stringify(chatCompletionBody(plan));
    res.writeHead(200, responseHeaders(state, exchange, "application/json", undefined));
    [first, rest] = [body.slice(0, body.length >> 1), body.slice(body.length >> 1)];
  }
  if (ms === "cut") {
    res.write(first, () => exchange.req.socket.destroy());
    return;
  }
  res.write(first);
  const timer = setTimeout(() => {
    state.timers.delete(timer);
    if (!res.destroyed) res.end(rest);
  }, ms);
  state.timers.add(timer);
}

function answerChat(state: ServerState, exchange: Exchange): void {
  const request = asObject(exchange.body);
  if (!request) return sendError(state, exchange, INVALID_JSON_BODY);
  const model = request["model"];
  if (typeof model !== "string" || !model) return sendError(state, exchange, MISSING_MODEL);
  const messages = request["messages"];
  if (!Array.isArray(messages)) return sendError(state, exchange, missingParameter("messages"));

  const plan = planChat(state, request, model, messages);
  if (request["stream"] !== true) return sendJson(state, exchange, 200, chatCompletionBody(plan));
  const includeUsage = asObject(request["stream_options"])?.["include_usage"] === true;
  sendEventStream(state, exchange, chatStreamBody(plan, includeUsage));
}

// ---------------------------------------------------------------------------------------------
// POST /v1/embeddings

/** `input` as texts: a string, strings, or token arrays (joined so they still hash deterministically). */
function embeddingInputs(input: unknown): string[] | undefined {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((item) => typeof item === "number")) return [input.join(" ")];
  const texts: string[] = [];
  for (const item of input) {
    if (typeof item === "string") texts.push(item);
    else if (Array.isArray(item)) texts.push(item.join(" "));
    else return undefined;
  }
  return texts;
}

/** FNV-1a over UTF-16 code units: a cheap, stable seed per text. */
function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A unit-length vector derived only from the text, in float32 precision like OpenAI's. */
export function fakeEmbedding(text: string, dimensions: number): Float32Array {
  const random = seededRandom(hashText(text));
  const vector = new Float32Array(dimensions);
  let sumOfSquares = 0;
  for (let i = 0; i < dimensions; i++) {
    const value = random() * 2 - 1;
    vector[i] = value;
    sumOfSquares += value * value;
  }
  const norm = Math.sqrt(sumOfSquares) || 1;
  for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] ?? 0) / norm;
  return vector;
}

/** base64 of little-endian float32 bytes, exactly what OpenAI sends for `encoding_format: "base64"`. */
function toBase64Float32(vector: Float32Array): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i] ?? 0, i * 4);
  return bytes.toString("base64");
}

function answerEmbeddings(state: ServerState, exchange: Exchange): void {
  const request = asObject(exchange.body);
  if (!request) return sendError(state, exchange, INVALID_JSON_BODY);
  const model = request["model"];
  if (typeof model !== "string" || !model) return sendError(state, exchange, MISSING_MODEL);
  if (request["input"] === undefined) return sendError(state, exchange, missingParameter("input"));
  const texts = embeddingInputs(request["input"]);
  if (!texts) {
    return sendError(
      state,
      exchange,
      invalidRequest("'$.input' is invalid. Please check the API reference."),
    );
  }
  const requested = request["dimensions"];
  const dimensions =
    typeof requested === "number" && requested > 0 ? Math.floor(requested) : DEFAULT_EMBEDDING_DIMENSIONS;
  const asBase64 = request["encoding_format"] === "base64";

  let chars = 0;
  const data = texts.map((text, index) => {
    chars += text.length;
    const vector = fakeEmbedding(text, dimensions);
    return { object: "embedding", index, embedding: asBase64 ? toBase64Float32(vector) : Array.from(vector) };
  });
  const promptTokens = estimateTokens(chars);
  sendJson(state, exchange, 200, {
    object: "list",
    data,
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}

// ---------------------------------------------------------------------------------------------
// GET /v1/models, routing and behaviors

function answerModels(state: ServerState, exchange: Exchange): void {
  const data = MODEL_IDS.map((id) => ({ id, object: "model", created: MODELS_CREATED, owned_by: "openai" }));
  sendJson(state, exchange, 200, { object: "list", data });
}

function answerDefault(state: ServerState, exchange: Exchange): void {
  const route = `${exchange.method} ${exchange.path}`;
  if (route === "POST /v1/chat/completions") return answerChat(state, exchange);
  if (route === "POST /v1/embeddings") return answerEmbeddings(state, exchange);
  if (route === "GET /v1/models") return answerModels(state, exchange);
  sendError(state, exchange, {
    status: 404,
    error: { message: `Invalid URL (${route})`, type: "invalid_request_error", param: null, code: null },
  });
}

function perform(state: ServerState, exchange: Exchange, behavior: FakeBehavior): void {
  switch (behavior.kind) {
    case "default":
      return answerDefault(state, exchange);
    case "reply":
      return sendJson(state, exchange, behavior.status ?? 200, behavior.body, behavior.headers);
    case "error":
      return sendError(state, exchange, errorFromBehavior(behavior));
    case "malformed":
      return sendRaw(state, exchange, 200, "application/json", behavior.body ?? DEFAULT_MALFORMED_BODY);
    case "reset":
      exchange.req.socket.destroy();
      return;
    case "hang":
      return; // close() destroys the socket
    case "stream_fault":
      return answerChatStreamWithFault(state, exchange, behavior);
    case "slow_body":
      return answerChatSlowly(state, exchange, behavior.ms);
    case "cut_body":
      return answerChatSlowly(state, exchange, "cut");
    case "delay": {
      const timer = setTimeout(() => {
        state.timers.delete(timer);
        perform(state, exchange, behavior.then ?? { kind: "default" });
      }, behavior.ms);
      state.timers.add(timer);
      return;
    }
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

function pathOf(url: string | undefined): string {
  const raw = url ?? "/";
  const queryAt = raw.indexOf("?");
  return queryAt === -1 ? raw : raw.slice(0, queryAt);
}

async function handleRequest(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const startedAt = Date.now();
  const body = parseJsonBody(await readBody(req));
  const exchange: Exchange = {
    method: req.method ?? "GET",
    path: pathOf(req.url),
    body,
    req,
    res,
    startedAt,
  };
  if (state.options.recordRequests ?? true) {
    state.requests.push({ method: exchange.method, path: exchange.path, headers: req.headers, body });
  }
  // Like the real API, authentication comes first; a rejected request does not use up a queued behavior.
  const authError = checkApiKey(state.options.apiKey, req.headers.authorization);
  if (authError) return sendError(state, exchange, authError);
  const delay = state.options.defaultDelayMs;
  const model = asObject(body)?.["model"];
  const forModel = typeof model === "string" ? state.modelBehaviors.get(model) : undefined;
  perform(
    state,
    exchange,
    forModel ?? state.queue.shift() ?? (delay ? { kind: "delay", ms: delay } : { kind: "default" }),
  );
}

function onRequest(state: ServerState, req: IncomingMessage, res: ServerResponse): void {
  handleRequest(state, req, res).catch(() => {
    // A client that disconnects mid-body, or a bug here: never leave the socket dangling.
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(INTERNAL_ERROR_BODY);
    } else {
      req.socket.destroy();
    }
  });
}

export async function startFakeOpenAIServer(
  options: FakeOpenAIServerOptions = {},
): Promise<FakeOpenAIServer> {
  const state: ServerState = {
    queue: [],
    requests: [],
    chatReply: undefined,
    modelBehaviors: new Map(),
    timers: new Set(),
    ids: new IdGenerator(),
    options,
  };
  // HTTP keep-alive is Node's default; no per-request logging on purpose (benchmarks use this too).
  const server = createServer((req, res) => onRequest(state, req, res));
  const { port, close } = await listenOnLoopback(server, state.timers);

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    requests: state.requests,
    enqueue(...behaviors) {
      state.queue.push(...behaviors);
    },
    setChatReply(reply) {
      state.chatReply = reply;
    },
    setModelBehavior(model, behavior) {
      if (behavior) state.modelBehaviors.set(model, behavior);
      else state.modelBehaviors.delete(model);
    },
    reset() {
      state.queue.length = 0;
      state.requests.length = 0; // in place: callers may hold a reference to `requests`
      state.chatReply = undefined;
      state.modelBehaviors.clear();
    },
    close,
  };
}
