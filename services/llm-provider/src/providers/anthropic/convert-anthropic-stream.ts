import type { ThinkingBlock } from "@llm-provider/contracts";
import { z } from "zod";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import type { ChatDelta, ChatStreamPart, ChatUsage } from "../../ports/provider-client.js";
import { parseUpstream } from "../parse-upstream.js";
import { classifyAnthropicError } from "./classify-anthropic-error.js";
import { convertAnthropicUsage } from "./convert-anthropic-response.js";
import { mapAnthropicStopReason } from "./map-anthropic-stop-reason.js";

const tokenCount = z.number().int().nonnegative();

/** Lenient: one shape for every Messages stream event, only the fields we use. */
const anthropicStreamEventSchema = z.object({
  type: z.string(),
  message: z
    .object({
      id: z.string().nullish(),
      model: z.string().nullish(),
      usage: z
        .object({
          input_tokens: tokenCount.nullish(),
          output_tokens: tokenCount.nullish(),
          cache_creation_input_tokens: tokenCount.nullish(),
          cache_read_input_tokens: tokenCount.nullish(),
          output_tokens_details: z.object({ thinking_tokens: tokenCount }).nullish(),
        })
        .nullish(),
    })
    .nullish(),
  index: z.number().int().nonnegative().nullish(),
  content_block: z
    .object({
      type: z.string(),
      text: z.string().nullish(),
      id: z.string().nullish(),
      name: z.string().nullish(),
      thinking: z.string().nullish(),
      data: z.string().nullish(),
    })
    .nullish(),
  delta: z
    .object({
      type: z.string().nullish(),
      text: z.string().nullish(),
      partial_json: z.string().nullish(),
      thinking: z.string().nullish(),
      signature: z.string().nullish(),
      stop_reason: z.string().nullish(),
    })
    .nullish(),
  usage: z
    .object({
      input_tokens: tokenCount.nullish(),
      output_tokens: tokenCount.nullish(),
      cache_creation_input_tokens: tokenCount.nullish(),
      cache_read_input_tokens: tokenCount.nullish(),
      output_tokens_details: z.object({ thinking_tokens: tokenCount }).nullish(),
    })
    .nullish(),
});
type AnthropicStreamEvent = z.infer<typeof anthropicStreamEventSchema>;
type StreamUsage = NonNullable<AnthropicStreamEvent["usage"]>;

/** A tool_use block being streamed: its position among the answer's calls, and whether input came. */
interface OpenToolUse {
  index: number;
  sentArguments: boolean;
}

/** What the stream told so far, beyond the deltas already passed on. */
interface StreamState {
  readonly legacyFunctionCall: boolean;
  /** By the block's index in the message. */
  readonly toolUses: Map<number, OpenToolUse>;
  /** Thinking blocks under way, by index: their text and signature so far. */
  readonly openThinking: Map<number, { thinking: string; signature: string }>;
  /** Finished thinking and redacted_thinking blocks, in the order they came. */
  readonly thinkingBlocks: ThinkingBlock[];
  upstreamId: string | null;
  responseModel: string | null;
  usage: StreamUsage;
  sawUsage: boolean;
  /** `undefined` until a stop reason (or the stop without one) came. */
  rawStopReason: string | null | undefined;
  finished: boolean;
  /** Calls past the first, which the legacy `function_call` form cannot hold. */
  extraCalls: number;
}

/**
 * Anthropic Messages stream events (as the SDK yields them; it throws on an `error` event) →
 * neutral parts. Text deltas become content; thinking deltas reasoning, and the thinking blocks
 * (with their signatures, and redacted ones) come whole in the end part; a `tool_use` block becomes a tool call delta with id and
 * name, then its `input_json_delta` pieces as arguments (in the legacy `function_call` form when
 * `legacyFunctionCall`, first call only). The answer is whole once `message_delta` brought the stop
 * reason and the output count: the stream ends there, without waiting for `message_stop`. A stream
 * that closes before it yields no `end` (it was cut). Read errors are classified; unknown ones are a
 * broken connection.
 */
export async function* convertAnthropicStream(
  events: AsyncIterable<unknown>,
  legacyFunctionCall: boolean,
): AsyncGenerator<ChatStreamPart> {
  const iterator = events[Symbol.asyncIterator]();
  const state: StreamState = {
    legacyFunctionCall,
    toolUses: new Map(),
    openThinking: new Map(),
    thinkingBlocks: [],
    upstreamId: null,
    responseModel: null,
    usage: {},
    sawUsage: false,
    rawStopReason: undefined,
    finished: false,
    extraCalls: 0,
  };
  try {
    while (!state.finished) {
      const next = await iterator.next();
      if (next.done) break;
      const delta = applyEvent(state, parseEvent(next.value));
      if (delta) yield { type: "delta", delta };
    }
  } catch (error) {
    throw (
      classifyAnthropicError(error, Date.now()) ??
      new UpstreamError(FailureClass.connection, "reading the provider's stream failed", { cause: error })
    );
  } finally {
    void iterator.return?.().catch(() => undefined);
  }
  if (state.finished) yield endPart(state);
}

/** Folds one event into `state`; answers the delta it carries for the caller, if any. */
function applyEvent(state: StreamState, event: AnthropicStreamEvent): ChatDelta | undefined {
  switch (event.type) {
    case "message_start":
      state.upstreamId = event.message?.id ?? null;
      state.responseModel = event.message?.model ?? null;
      if (event.message?.usage) addUsage(state, event.message.usage);
      return undefined;
    case "content_block_start":
      return startBlock(state, event);
    case "content_block_delta":
      return applyBlockDelta(state, event);
    case "content_block_stop": {
      finishThinking(state, event.index ?? 0);
      // A call without parameters streams no input at all; neutral arguments are JSON text.
      const toolUse = state.toolUses.get(event.index ?? 0);
      if (!toolUse || toolUse.sentArguments) return undefined;
      toolUse.sentArguments = true;
      return callDelta(toolUse.index, state.legacyFunctionCall, { arguments: "{}" });
    }
    case "message_delta":
      if (event.usage) addUsage(state, event.usage);
      if (event.delta?.stop_reason !== undefined) {
        state.rawStopReason = event.delta.stop_reason;
        state.finished = state.rawStopReason !== null;
      }
      return undefined;
    case "message_stop":
      state.rawStopReason ??= null;
      state.finished = true;
      return undefined;
    default:
      // ping, citation deltas, event types added later
      return undefined;
  }
}

/** A text, thinking or input piece of the block at `event.index`; a signature is kept for the end. */
function applyBlockDelta(state: StreamState, event: AnthropicStreamEvent): ChatDelta | undefined {
  const delta = event.delta;
  const index = event.index ?? 0;
  if (delta?.type === "text_delta" && delta.text) return { content: delta.text };
  const thinking = state.openThinking.get(index);
  if (delta?.type === "thinking_delta" && thinking && delta.thinking) {
    thinking.thinking += delta.thinking;
    return { reasoning: delta.thinking };
  }
  if (delta?.type === "signature_delta" && thinking && delta.signature) {
    thinking.signature += delta.signature;
    return undefined;
  }
  const toolUse = state.toolUses.get(index);
  if (delta?.type === "input_json_delta" && toolUse && delta.partial_json) {
    toolUse.sentArguments = true;
    return callDelta(toolUse.index, state.legacyFunctionCall, { arguments: delta.partial_json });
  }
  return undefined;
}

/** A thinking block is whole at its stop; one without a signature could not go back, so it is not kept. */
function finishThinking(state: StreamState, index: number): void {
  const thinking = state.openThinking.get(index);
  if (!thinking) return;
  state.openThinking.delete(index);
  if (thinking.signature !== "")
    state.thinkingBlocks.push({
      type: "thinking",
      thinking: thinking.thinking,
      signature: thinking.signature,
    });
}

/** A text or thinking block's first text, a tool_use block's id and name; redacted thinking comes whole. */
function startBlock(state: StreamState, event: AnthropicStreamEvent): ChatDelta | undefined {
  const block = event.content_block;
  if (block?.type === "text" && block.text) return { content: block.text };
  if (block?.type === "thinking") {
    state.openThinking.set(event.index ?? 0, { thinking: block.thinking ?? "", signature: "" });
    return block.thinking ? { reasoning: block.thinking } : undefined;
  }
  if (block?.type === "redacted_thinking") {
    if (block.data) state.thinkingBlocks.push({ type: "redacted_thinking", data: block.data });
    return undefined;
  }
  if (block?.type !== "tool_use") return undefined;
  const toolUse = { index: state.toolUses.size, sentArguments: false };
  state.toolUses.set(event.index ?? 0, toolUse);
  if (state.legacyFunctionCall && toolUse.index > 0) state.extraCalls++;
  return callDelta(toolUse.index, state.legacyFunctionCall, { id: block.id ?? "", name: block.name ?? "" });
}

function addUsage(state: StreamState, usage: StreamUsage): void {
  state.usage = { ...state.usage, ...withoutNulls(usage) };
  state.sawUsage = true;
}

/** The finished answer: stop reason, usage (when both counts came) and what was not kept. */
function endPart(state: StreamState): ChatStreamPart {
  const { usage, rawStopReason, extraCalls } = state;
  const warnings: string[] = [];
  const hasUsage = state.sawUsage && usage.input_tokens != null && usage.output_tokens != null;
  if (!hasUsage) warnings.push("provider did not report token usage; cost is 0");
  if (extraCalls > 0) {
    warnings.push(`provider made ${extraCalls + 1} function calls; the legacy function_call holds the first`);
  }
  return {
    type: "end",
    end: {
      upstreamId: state.upstreamId,
      responseModel: state.responseModel,
      finishReason: mapAnthropicStopReason(rawStopReason),
      rawFinishReason: rawStopReason ?? null,
      usage: hasUsage ? toUsage(usage) : undefined,
      ...(state.thinkingBlocks.length > 0 ? { thinkingBlocks: state.thinkingBlocks } : {}),
      warnings,
    },
  };
}

function parseEvent(value: unknown): AnthropicStreamEvent {
  return parseUpstream(anthropicStreamEventSchema, value, "sent a stream event");
}

/** A piece of call `index`: a tool call delta, or for the legacy form a function_call delta (first call only). */
function callDelta(
  index: number,
  legacyFunctionCall: boolean,
  piece: { id?: string; name?: string; arguments?: string },
): ChatDelta | undefined {
  const fn = {
    ...(piece.name !== undefined ? { name: piece.name } : {}),
    ...(piece.arguments !== undefined ? { arguments: piece.arguments } : {}),
  };
  if (legacyFunctionCall) return index === 0 ? { functionCall: fn } : undefined;
  return {
    toolCalls: [
      {
        index,
        ...(piece.id !== undefined ? { id: piece.id, type: "function" as const } : {}),
        function: fn,
      },
    ],
  };
}

function withoutNulls(usage: StreamUsage): StreamUsage {
  return Object.fromEntries(Object.entries(usage).filter(([, value]) => value != null));
}

function toUsage(usage: StreamUsage): ChatUsage {
  return convertAnthropicUsage({
    input_tokens: usage.input_tokens ?? 0,
    output_tokens: usage.output_tokens ?? 0,
    cache_creation_input_tokens: usage.cache_creation_input_tokens ?? null,
    cache_read_input_tokens: usage.cache_read_input_tokens ?? null,
    output_tokens_details: usage.output_tokens_details ?? null,
  });
}
