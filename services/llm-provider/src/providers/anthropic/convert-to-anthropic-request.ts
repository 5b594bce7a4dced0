import type Anthropic from "@anthropic-ai/sdk";
import type { CompleteChat } from "@llm-provider/contracts";
import { requestedOutputCap } from "../../domain/chat-requirements.js";
import { withAutomaticCacheBreakpoints } from "../../domain/prompt-cache.js";
import { convertThinking } from "./anthropic-thinking.js";
import { convertToAnthropicMessages } from "./convert-to-anthropic-messages.js";
import { prepareAnthropicTools } from "./prepare-anthropic-tools.js";

export interface AnthropicRequest {
  body: Anthropic.MessageCreateParamsNonStreaming;
  /** Settings the Messages API cannot honour; they are not sent. */
  warnings: string[];
}

/** Settings of the neutral request that the Messages API (version 2026-10-21) has no field for. */
const UNSUPPORTED_SETTINGS = [
  "temperature",
  "top_p",
  "presence_penalty",
  "frequency_penalty",
  "seed",
] as const;

/**
 * Neutral CompleteChat → Anthropic Messages body. `max_tokens` is required by the API: the
 * request's cap (under either name), else the model's limit. Prompt-cache breakpoints (the request's,
 * and those `prompt_cache: "auto"` adds) are sent only when the model takes them (`promptCaching`).
 */
export function convertToAnthropicRequest(
  upstreamModel: string,
  neutral: CompleteChat,
  modelMaxTokens: number,
  promptCaching = false,
): AnthropicRequest {
  const request = promptCaching ? withAutomaticCacheBreakpoints(neutral) : neutral;
  const { system, messages, warnings } = convertToAnthropicMessages(request.messages, promptCaching);
  const maxTokens = requestedOutputCap(request)?.value ?? modelMaxTokens;
  const body: Anthropic.MessageCreateParamsNonStreaming = {
    model: upstreamModel,
    max_tokens: maxTokens,
    messages,
    ...prepareAnthropicTools(request, promptCaching),
  };
  if (system !== undefined) body.system = system;
  const { thinking, warnings: thinkingWarnings } = convertThinking(request, maxTokens);
  if (thinking !== undefined) body.thinking = thinking;
  warnings.push(...thinkingWarnings);
  if (request.stop !== undefined) {
    body.stop_sequences = typeof request.stop === "string" ? [request.stop] : request.stop;
  }
  if (request.user !== undefined) body.metadata = { user_id: request.user };
  const format = request.response_format;
  if (format?.type === "json_schema") {
    body.output_config = { format: { type: "json_schema", schema: format.json_schema.schema ?? {} } };
  } else if (format?.type === "json_object") {
    warnings.push("response_format json_object is not supported by Anthropic; use json_schema");
  }
  for (const setting of UNSUPPORTED_SETTINGS) {
    if (request[setting] !== undefined)
      warnings.push(`${setting} is not supported by Anthropic and was not sent`);
  }
  if (request.provider_preferences !== undefined)
    warnings.push(
      "provider_preferences is OpenRouter's provider routing; Anthropic does not take it and it was not sent",
    );
  return { body, warnings };
}
