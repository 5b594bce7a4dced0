import type { FunctionCall, ThinkingBlock, ToolCall } from "@llm-provider/contracts";
import { z } from "zod";
import type { ChatOutcome, ChatUsage } from "../../ports/provider-client.js";
import { parseUpstream } from "../parse-upstream.js";
import { mapAnthropicStopReason } from "./map-anthropic-stop-reason.js";

/** Lenient: only the fields we use; other block types (server tools, citations) pass unread. */
const anthropicMessageSchema = z.object({
  id: z.string().nullish(),
  model: z.string().nullish(),
  content: z.array(
    z.object({
      type: z.string(),
      text: z.string().nullish(),
      id: z.string().nullish(),
      name: z.string().nullish(),
      input: z.unknown().optional(),
      thinking: z.string().nullish(),
      signature: z.string().nullish(),
      data: z.string().nullish(),
    }),
  ),
  stop_reason: z.string().nullish(),
  usage: z
    .object({
      input_tokens: z.number().int().nonnegative(),
      output_tokens: z.number().int().nonnegative(),
      cache_creation_input_tokens: z.number().int().nonnegative().nullish(),
      cache_read_input_tokens: z.number().int().nonnegative().nullish(),
      output_tokens_details: z.object({ thinking_tokens: z.number().int().nonnegative() }).nullish(),
    })
    .nullish(),
});
type AnthropicUsage = NonNullable<z.output<typeof anthropicMessageSchema>["usage"]>;
type AnthropicBlock = z.output<typeof anthropicMessageSchema>["content"][number];

/**
 * Anthropic Message → neutral outcome. `legacyFunctionCall`: the request used the seed's
 * `functions`, so a call comes back as `function_call` (which holds one call) instead of `tool_calls`.
 */
export function convertAnthropicResponse(body: unknown, legacyFunctionCall: boolean): ChatOutcome {
  const {
    id,
    model,
    content,
    stop_reason: rawStopReason,
    usage,
  } = parseUpstream(anthropicMessageSchema, body, "returned a message");
  const texts = content.filter((block) => block.type === "text").map((block) => block.text ?? "");
  const toolCalls: ToolCall[] = content
    .filter((block) => block.type === "tool_use")
    .map((block) => ({
      id: block.id ?? "",
      type: "function",
      function: { name: block.name ?? "", arguments: JSON.stringify(block.input ?? {}) },
    }));
  const warnings: string[] = [];
  if (!usage) warnings.push("provider did not report token usage; cost is 0");

  const outcome: ChatOutcome = {
    upstreamId: id ?? null,
    responseModel: model ?? null,
    content: texts.length > 0 ? texts.join("") : null,
    finishReason: mapAnthropicStopReason(rawStopReason),
    rawFinishReason: rawStopReason ?? null,
    usage: usage ? convertAnthropicUsage(usage) : undefined,
    warnings,
  };
  const thinkingBlocks = content.flatMap(toThinkingBlock);
  if (thinkingBlocks.length > 0) outcome.thinkingBlocks = thinkingBlocks;
  // Redacted thinking has no readable text: reasoning only when some block has.
  if (thinkingBlocks.some((block) => block.type === "thinking"))
    outcome.reasoning = thinkingText(thinkingBlocks);
  if (toolCalls.length > 0 && legacyFunctionCall) {
    outcome.functionCall = toolCalls[0]!.function satisfies FunctionCall;
    if (toolCalls.length > 1) {
      warnings.push(
        `provider made ${toolCalls.length} function calls; the legacy function_call holds the first`,
      );
    }
  } else if (toolCalls.length > 0) {
    outcome.toolCalls = toolCalls;
  }
  return outcome;
}

/** A thinking or redacted_thinking block, kept whole (it goes back signed in the next turn). */
function toThinkingBlock(block: AnthropicBlock): ThinkingBlock[] {
  if (block.type === "thinking" && block.signature)
    return [{ type: "thinking", thinking: block.thinking ?? "", signature: block.signature }];
  if (block.type === "redacted_thinking" && block.data)
    return [{ type: "redacted_thinking", data: block.data }];
  return [];
}

/** The readable reasoning: the thinking blocks' texts joined (redacted ones have none). */
export function thinkingText(blocks: readonly ThinkingBlock[]): string {
  return blocks.map((block) => (block.type === "thinking" ? block.thinking : "")).join("");
}

/**
 * Anthropic counts cached prompt tokens apart from `input_tokens`; the neutral count includes them.
 * Thinking tokens are part of `output_tokens`, as reasoning tokens are part of completion tokens.
 */
export function convertAnthropicUsage(usage: AnthropicUsage): ChatUsage {
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  const converted: ChatUsage = {
    promptTokens: usage.input_tokens + cacheRead + cacheWrite,
    completionTokens: usage.output_tokens,
  };
  if (cacheRead > 0) converted.cacheReadTokens = cacheRead;
  if (cacheWrite > 0) converted.cacheWriteTokens = cacheWrite;
  // Part of output_tokens; reported by the API versions that count thinking apart.
  const thinking = usage.output_tokens_details?.thinking_tokens;
  if (thinking !== undefined && thinking > 0)
    converted.reasoningTokens = Math.min(thinking, usage.output_tokens);
  return converted;
}
