// POST /v1/chat/completions: the echo answer (or the scripted one) as a body or an SSE stream,
// and the streams and bodies that break or stall on purpose.
import { asObject, estimateTokens, splitWords, type JsonObject } from "../fake-http-server.js";
import {
  planPromptCache,
  planReasoning,
  usageBody,
  type CachePlan,
  type ReasoningPlan,
} from "./chat-usage.js";
import { INVALID_JSON_BODY, MISSING_MODEL, missingParameter } from "./errors.js";
import { checkChatRequest } from "./request-checks.js";
import { responseHeaders, sendError, sendEventStream, sendJson } from "./responses.js";
import type { Exchange, FakeBehavior, FakeChatReply, FakeFlavour, ServerState } from "./server-state.js";

const SYSTEM_FINGERPRINT = "fp_fake";

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
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
  reasoning: ReasoningPlan;
  cache: CachePlan;
  flavour: FakeFlavour;
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
  const flavour = state.options.flavour ?? "openai";
  const texts = messages.map(messageText);
  const promptChars = texts.reduce((sum, text) => sum + text.length, 0);
  const lastText = texts[texts.length - 1] ?? "";

  let content = custom?.content !== undefined ? custom.content : `echo: ${lastText}`;
  let contentPieces = content === null ? [] : splitWords(content);
  let finishReason = defaultFinishReason(custom);
  const reasoning = planReasoning(request, model, flavour, custom, lastText);

  // The cap counts reasoning too: what reasoning spent is not left for the answer.
  const limit = maxTokensOf(request);
  const answerLimit = limit === undefined ? undefined : Math.max(0, limit - reasoning.tokens);
  if (content !== null && answerLimit !== undefined && answerLimit < contentPieces.length) {
    contentPieces = contentPieces.slice(0, answerLimit);
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
    completionTokens:
      custom?.usage?.completion_tokens ?? contentPieces.length + toolTokens + reasoning.tokens,
    reasoning,
    cache: planPromptCache(state, model, messages, texts, flavour),
    flavour,
  };
}

function usageOf(plan: ChatPlan): JsonObject {
  return usageBody(
    {
      promptTokens: plan.promptTokens,
      completionTokens: plan.completionTokens,
      reasoningTokens: plan.reasoning.tokens,
      cache: plan.cache,
    },
    plan.flavour,
  );
}

function chatCompletionBody(plan: ChatPlan): JsonObject {
  const message: JsonObject = { role: "assistant", content: plan.content, refusal: null };
  if (plan.flavour === "openrouter") message["reasoning"] = plan.reasoning.text ?? null;
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
  // OpenRouter streams the reasoning first, as `delta.reasoning`.
  for (const piece of splitWords(plan.reasoning.text ?? ""))
    events.push(event({ content: "", reasoning: piece }));
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

/** The SSE events of the normal streamed answer to a request a scripted behavior answers. */
function scriptedStreamEvents(state: ServerState, exchange: Exchange): string[] {
  const request = asObject(exchange.body) ?? {};
  const model = typeof request["model"] === "string" ? request["model"] : "unknown";
  const messages = Array.isArray(request["messages"]) ? request["messages"] : [];
  return chatStreamEvents(planChat(state, request, model, messages), includesUsage(state, request));
}

/** A stream that breaks as `behavior` says (see `stream_fault`). */
export function answerChatStreamWithFault(
  state: ServerState,
  exchange: Exchange,
  behavior: Extract<FakeBehavior, { kind: "stream_fault" }>,
): void {
  const events = scriptedStreamEvents(state, exchange);
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

/** A chat stream held after its first `after` events until the test opens `gate` (`gated_stream`). */
export function answerGatedChatStream(
  state: ServerState,
  exchange: Exchange,
  behavior: Extract<FakeBehavior, { kind: "gated_stream" }>,
): void {
  const events = scriptedStreamEvents(state, exchange);
  const { res } = exchange;
  res.writeHead(200, responseHeaders(state, exchange, "text/event-stream; charset=utf-8", undefined));
  res.write(events.slice(0, behavior.after).join(""));
  void behavior.gate.then(() => {
    if (!res.destroyed) res.end(events.slice(behavior.after).join(""));
  });
}

/** The normal chat answer with a pause after its first part (`slow_body`), or cut there (`cut_body`). */
export function answerChatSlowly(state: ServerState, exchange: Exchange, ms: number | "cut"): void {
  const request = asObject(exchange.body) ?? {};
  const model = typeof request["model"] === "string" ? request["model"] : "unknown";
  const messages = Array.isArray(request["messages"]) ? request["messages"] : [];
  const plan = planChat(state, request, model, messages);
  const { res } = exchange;
  let first: string;
  let rest: string;
  if (request["stream"] === true) {
    const includeUsage = includesUsage(state, request);
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

/** OpenAI sends usage in a last chunk when asked; OpenRouter always does. */
function includesUsage(state: ServerState, request: JsonObject): boolean {
  return (
    state.options.flavour === "openrouter" || asObject(request["stream_options"])?.["include_usage"] === true
  );
}

export function answerChat(state: ServerState, exchange: Exchange): void {
  const request = asObject(exchange.body);
  if (!request) return sendError(state, exchange, INVALID_JSON_BODY);
  const model = request["model"];
  if (typeof model !== "string" || !model) return sendError(state, exchange, MISSING_MODEL);
  const messages = request["messages"];
  if (!Array.isArray(messages)) return sendError(state, exchange, missingParameter("messages"));
  const refusal = checkChatRequest(request, state.options.flavour ?? "openai");
  if (refusal) return sendError(state, exchange, refusal);

  const plan = planChat(state, request, model, messages);
  if (request["stream"] !== true) return sendJson(state, exchange, 200, chatCompletionBody(plan));
  const includeUsage = includesUsage(state, request);
  sendEventStream(state, exchange, chatStreamBody(plan, includeUsage));
}
