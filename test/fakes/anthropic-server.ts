// A local stand-in for api.anthropic.com's Messages API (version 2026-10-21, the one the SDK
// sends): real body and error envelope, `request-id` and rate-limit headers, and the request
// checks that matter to a client — `anthropic-version`, the key (`x-api-key` or bearer), required
// `max_tokens`, unknown fields refused, and every `tool_result` answering a `tool_use` of the
// previous assistant turn; content blocks, prompt-cache breakpoints and extended thinking as
// anthropic-content-checks.ts and anthropic-thinking.ts say. Answers start from wire fixtures in
// `__fixtures__/`, with signed thinking when thinking is on and cache usage from what it saw before.
import { randomBytes } from "node:crypto";
import {
  asObject,
  estimateTokens,
  loadFixture,
  startFakeHttpServer,
  textOf,
  truncateWords,
  type Exchange,
  type FakeHttpServer,
  type JsonObject,
} from "./fake-http-server.js";
import {
  checkBlock,
  checkCacheBreakpointCount,
  checkSystem,
  checkTools,
} from "./anthropic-content-checks.js";
import {
  answerMessageBatches,
  createMessageBatchesState,
  type AnswerBatchRequest,
  type FakeMessageBatchEnding,
} from "./anthropic-batches.js";
import { createFakePromptCache, type FakePromptCache } from "./anthropic-prompt-cache.js";
import { ERROR_DEFAULTS, sendError, sendScriptedError, type ScriptedError } from "./anthropic-errors.js";
import { streamEvents } from "./anthropic-stream-events.js";
import {
  checkThinkingSetting,
  checkThinkingTurns,
  createThinkingSigner,
  thinkingBlocks,
  thinkingEnabled,
  type ThinkingSigner,
} from "./anthropic-thinking.js";

export const ANTHROPIC_API_VERSIONS = ["2023-06-01", "2026-10-21"];

export type AnthropicFakeBehavior =
  /** Anthropic's error envelope; unset fields get per-status defaults (see ERROR_DEFAULTS). */
  | ({ kind: "error" } & ScriptedError)
  /** A fixture of `__fixtures__/`, sent as the 200 answer (its `model` replaced by the requested one). */
  | { kind: "fixture"; name: string }
  /** An explicit answer. */
  | { kind: "reply"; status?: number; body: unknown; headers?: Record<string, string> }
  /**
   * A streamed answer (`stream: true`) that goes wrong after `after` SSE events (message_start is
   * the first, the first text delta the fourth): `cut` destroys the socket, `stall` goes silent with
   * the socket open, `malformed` sends an event whose data is not JSON, `error_event` sends an
   * `error` event (`errorType`, default overloaded_error) and closes, `no_message_stop` sends
   * everything but `message_stop` and closes, `hold_open` sends everything but `message_stop` and
   * keeps the socket open.
   */
  | {
      kind: "stream_fault";
      after: number;
      fault: "cut" | "stall" | "malformed" | "error_event" | "no_message_stop" | "hold_open";
      errorType?: string;
    };

export interface AnthropicScriptedReply {
  /** Reply text; `undefined` keeps the echo, `null` sends no text block. */
  text?: string | null;
  toolUses?: { id?: string; name: string; input: unknown }[];
  /** The reasoning of a thinking answer (when the request turns thinking on); unset: derived from the question. */
  thinking?: string;
  /** Also a redacted_thinking block after the thinking one. */
  redactedThinking?: boolean;
  stopReason?: string;
  usage?: {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens?: number;
    cache_creation_input_tokens?: number;
  };
}

export interface FakeAnthropicServer extends FakeHttpServer<AnthropicFakeBehavior> {
  /** Pass as the SDK's `baseURL` (the SDK appends `/v1/messages`). */
  baseUrl: string;
  /** Changes the normal answer until `reset()`. */
  setReply(reply: AnthropicScriptedReply): void;
  /** Forgets the cached prompt prefixes (as if they expired); `reset()` does too. */
  clearPromptCache(): void;
  /** How the next message batches created end instead of completing, one per batch (FIFO). */
  scriptBatchEndings(...endings: FakeMessageBatchEnding[]): void;
}

/** Top-level fields the Messages API (2026-10-21) accepts; anything else is refused, as the API does. */
const KNOWN_FIELDS = new Set([
  "model",
  "messages",
  "max_tokens",
  "system",
  "stop_sequences",
  "metadata",
  "tools",
  "tool_choice",
  "output_config",
  "thinking",
  "stream",
  "cache_control",
  "container",
  "diagnostics",
  "inference_geo",
  "service_tier",
  "speed",
]);

const MALFORMED_BODY = '{"id":"msg_malformed","type":"message","content":[{"type":"text","te';

/** The text a turn ends with: its last text block or tool result. */
function lastText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const block = asObject(content.at(-1));
  if (block?.["type"] === "text") return textOf(block["text"]);
  if (block?.["type"] === "tool_result") return typeof block["content"] === "string" ? block["content"] : "";
  return "";
}

/** What the real API refuses with a 400, in its words; undefined when the body is acceptable. */
function findInvalidField(body: JsonObject, signer: ThinkingSigner): string | undefined {
  for (const field of Object.keys(body)) {
    if (!KNOWN_FIELDS.has(field)) return `${field}: Extra inputs are not permitted`;
  }
  if (typeof body["model"] !== "string") return "model: Field required";
  if (typeof body["max_tokens"] !== "number" || !Number.isInteger(body["max_tokens"]))
    return "max_tokens: Field required";
  const messages = body["messages"];
  if (!Array.isArray(messages) || messages.length === 0) return "messages: Field required";
  const final = asObject(messages.at(-1));
  if (final?.["role"] === "assistant" && /\s$/.test(lastText(final["content"])))
    return "final assistant content cannot end with trailing whitespace";
  let previousToolUses = new Set<string>();
  for (const [index, message] of messages.entries()) {
    const turn = asObject(message) ?? {};
    if (!["user", "assistant", "system"].includes(String(turn["role"]))) {
      return `messages.${index}.role: Input should be 'user', 'assistant' or 'system'`;
    }
    const blocks = Array.isArray(turn["content"])
      ? turn["content"].map((block) => asObject(block) ?? {})
      : [];
    if (typeof turn["content"] !== "string" && blocks.length === 0) {
      return `messages.${index}: all messages must have non-empty content except for the optional final assistant message`;
    }
    for (const [position, block] of blocks.entries()) {
      if (block["type"] === "text" && !block["text"])
        return `messages.${index}.content.${position}.text: text content blocks must be non-empty`;
      const problem = checkBlock(`messages.${index}.content.${position}`, block);
      if (problem !== undefined) return problem;
      if (block["type"] === "tool_result" && !previousToolUses.has(String(block["tool_use_id"]))) {
        return (
          `messages.${index}.content.${position}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ` +
          `${String(block["tool_use_id"])}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`
        );
      }
    }
    previousToolUses = new Set(
      blocks.filter((block) => block["type"] === "tool_use").map((block) => String(block["id"])),
    );
  }
  return (
    checkSystem(body["system"]) ??
    checkTools(body["tools"]) ??
    checkCacheBreakpointCount(body) ??
    checkThinkingSetting(body) ??
    checkThinkingTurns(body, signer)
  );
}

function messageId(): string {
  return `msg_01${randomBytes(12).toString("base64url")}`;
}

/** What an answer is made from besides the request: the scripted reply, the signer, the cache. */
interface AnswerContext {
  reply: AnthropicScriptedReply | undefined;
  signer: ThinkingSigner;
  cache: FakePromptCache;
}

function scriptedAnswer(request: JsonObject, { reply, signer, cache }: AnswerContext): JsonObject {
  const messages = request["messages"] as unknown[];
  // A final assistant message is a prefill: the answer continues it (as the real model does).
  const last = asObject(messages.at(-1));
  const prefill = last?.["role"] === "assistant" ? lastText(last["content"]) : undefined;
  const asked = prefill === undefined ? last : asObject(messages.at(-2));
  const whole = `echo: ${lastText(asked?.["content"])}`;
  const echo = prefill !== undefined && whole.startsWith(prefill) ? whole.slice(prefill.length) : whole;
  const { text, truncated } = truncateWords(
    reply?.text === undefined ? echo : (reply.text ?? ""),
    request["max_tokens"] as number,
  );
  const content: JsonObject[] = thinkingEnabled(request)
    ? thinkingBlocks(
        signer,
        reply?.thinking ?? `The user asks: ${lastText(asked?.["content"])}`,
        reply?.redactedThinking === true,
      )
    : [];
  if (reply?.text !== null && text !== "") content.push({ type: "text", text, citations: null });
  for (const toolUse of reply?.toolUses ?? []) {
    content.push({
      type: "tool_use",
      id: toolUse.id ?? `toolu_01${randomBytes(10).toString("hex")}`,
      name: toolUse.name,
      input: toolUse.input,
      caller: { type: "direct" },
    });
  }
  const stopReason =
    reply?.stopReason ?? (truncated ? "max_tokens" : reply?.toolUses?.length ? "tool_use" : "end_turn");
  const template = loadFixture("anthropic-message.json");
  const thinkingChars = content.reduce((sum, block) => sum + textOf(block["thinking"]).length, 0);
  return {
    ...template,
    id: messageId(),
    model: request["model"],
    content,
    stop_reason: stopReason,
    usage: {
      ...(template["usage"] as JsonObject),
      ...cache.usageOf(request),
      // Thinking is output: Anthropic counts it in output_tokens.
      output_tokens: Math.max(1, estimateTokens(text.length + thinkingChars)),
      output_tokens_details: { thinking_tokens: thinkingChars === 0 ? 0 : estimateTokens(thinkingChars) },
      ...reply?.usage,
    },
  };
}

const SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8";

function sendMessage(exchange: Exchange, request: JsonObject, message: JsonObject): void {
  if (request["stream"] !== true) return exchange.sendJson(200, message);
  exchange.openStream(200, SSE_CONTENT_TYPE).end(streamEvents(message).join(""));
}

function sendStreamWithFault(
  exchange: Exchange,
  message: JsonObject,
  behavior: Extract<AnthropicFakeBehavior, { kind: "stream_fault" }>,
): void {
  const events = streamEvents(message);
  const head = events.slice(0, behavior.after).join("");
  const stream = exchange.openStream(200, SSE_CONTENT_TYPE);
  switch (behavior.fault) {
    case "cut":
      return stream.cut(head);
    case "stall":
      return stream.write(head); // close() destroys the socket
    case "malformed":
      return stream.end(
        `${head}event: content_block_delta\ndata: {this is not json\n\n${events.slice(behavior.after).join("")}`,
      );
    case "error_event": {
      const type = behavior.errorType ?? "overloaded_error";
      const error = { type, message: ERROR_DEFAULTS[type === "overloaded_error" ? 529 : 500]?.message };
      return stream.end(`${head}event: error\ndata: ${JSON.stringify({ type: "error", error })}\n\n`);
    }
    case "no_message_stop":
      return stream.end(events.slice(0, -1).join(""));
    case "hold_open":
      return stream.write(events.slice(0, -1).join(""));
  }
}

/** What the real API refuses the request with (version, key, route, body); undefined when it is acceptable. */
function refusalOf(
  exchange: Exchange,
  apiKey: string | undefined,
  signer: ThinkingSigner,
): { status: number; type: string; message: string } | undefined {
  const version = exchange.headers["anthropic-version"];
  if (typeof version !== "string" || !ANTHROPIC_API_VERSIONS.includes(version)) {
    const message =
      version === undefined
        ? "anthropic-version: header is required"
        : `anthropic-version: invalid version ${String(version)}`;
    return { status: 400, type: "invalid_request_error", message };
  }
  const authorization = exchange.headers.authorization;
  const presented =
    exchange.headers["x-api-key"] ??
    (authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined);
  if (apiKey !== undefined && presented !== apiKey) {
    const message = presented === undefined ? "x-api-key header is required" : "invalid x-api-key";
    return { status: 401, type: "authentication_error", message };
  }
  if (isMessageBatchesRoute(exchange)) return undefined; // answered by anthropic-batches.ts
  if (exchange.method !== "POST" || exchange.path !== "/v1/messages") {
    return { status: 404, type: "not_found_error", message: "Not Found" };
  }
  const body = asObject(exchange.body);
  const invalid = body ? findInvalidField(body, signer) : NOT_JSON;
  return invalid === undefined ? undefined : { status: 400, type: "invalid_request_error", message: invalid };
}

const NOT_JSON = "There was an issue with your request body. The request body is not valid JSON.";

function isMessageBatchesRoute(exchange: Exchange): boolean {
  return exchange.path === "/v1/messages/batches" || exchange.path.startsWith("/v1/messages/batches/");
}

export async function startFakeAnthropicServer(
  options: { apiKey?: string } = {},
): Promise<FakeAnthropicServer> {
  let reply: AnthropicScriptedReply | undefined;
  const signer = createThinkingSigner();
  const cache = createFakePromptCache();
  const context = (): AnswerContext => ({ reply, signer, cache });
  let batches = createMessageBatchesState();
  // A batch request is checked and answered as POST /v1/messages would check and answer it.
  const answerBatchRequest: AnswerBatchRequest = (params) => {
    const invalid = findInvalidField(params, signer);
    if (invalid !== undefined) return { error: { type: "invalid_request_error", message: invalid } };
    return { message: scriptedAnswer(params, context()) };
  };

  const server = await startFakeHttpServer<AnthropicFakeBehavior>({
    malformedBody: MALFORMED_BODY,
    responseHeaders: () => ({
      "request-id": `req_${randomBytes(12).toString("hex")}`,
      "anthropic-organization-id": "00000000-0000-4000-8000-000000000000",
    }),
    preflight(exchange) {
      const refusal = refusalOf(exchange, options.apiKey, signer);
      if (refusal) sendError(exchange, refusal.status, refusal.type, refusal.message);
      else if (isMessageBatchesRoute(exchange)) answerMessageBatches(batches, exchange, answerBatchRequest);
      return refusal !== undefined || isMessageBatchesRoute(exchange);
    },
    respond(exchange, behavior) {
      const request = exchange.body as JsonObject;
      switch (behavior?.kind) {
        case undefined:
          return sendMessage(exchange, request, scriptedAnswer(request, context()));
        case "stream_fault":
          return sendStreamWithFault(exchange, scriptedAnswer(request, context()), behavior);
        case "reply":
          return exchange.sendJson(behavior.status ?? 200, behavior.body, behavior.headers);
        case "fixture":
          return sendMessage(exchange, request, {
            ...loadFixture(behavior.name),
            id: messageId(),
            model: request["model"],
          });
        case "error":
          return sendScriptedError(exchange, behavior);
      }
    },
  });

  return {
    ...server,
    baseUrl: server.origin,
    setReply(next) {
      reply = next;
    },
    clearPromptCache: () => cache.clear(),
    scriptBatchEndings(...endings) {
      batches.endings.push(...endings);
    },
    reset() {
      batches = createMessageBatchesState();
      reply = undefined;
      cache.clear();
      server.reset();
    },
  };
}
