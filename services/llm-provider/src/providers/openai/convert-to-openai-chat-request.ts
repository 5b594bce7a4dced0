import type { CompleteChat } from "@llm-provider/contracts";
import type OpenAI from "openai";
import { withAutomaticCacheBreakpoints } from "../../domain/prompt-cache.js";
import type { ChatCall } from "../../ports/provider-client.js";
import { convertToOpenAIMessages } from "./convert-to-openai-messages.js";
import { convertToOpenAIReasoning, type OpenAIReasoningFields } from "./convert-to-openai-reasoning.js";
import type { OpenAIFlavour } from "./openai-flavour.js";

/** The Chat Completions body, with OpenRouter's own fields beside OpenAI's. */
export type OpenAIChatRequest = Omit<
  OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
  keyof OpenAIReasoningFields
> &
  OpenAIReasoningFields & { provider?: Record<string, unknown> };

export interface OpenAIRequestContext {
  flavour: OpenAIFlavour;
  /** The provider's configured OpenRouter routing, under the request's own preferences. */
  providerPreferences?: Record<string, unknown> | undefined;
}

/**
 * Neutral chat call → Chat Completions body for one flavour of the OpenAI wire, and the settings
 * the flavour could not honour as they were asked (`warnings`).
 */
export function convertToOpenAIChatRequest(
  call: Pick<ChatCall, "upstreamModel" | "request" | "promptCaching">,
  context: OpenAIRequestContext,
): { body: OpenAIChatRequest; warnings: string[] } {
  const { flavour } = context;
  const warnings: string[] = [];
  const cacheBreakpoints = flavour.openRouter && call.promptCaching === true;
  const request = cacheBreakpoints ? withAutomaticCacheBreakpoints(call.request) : call.request;
  const body: OpenAIChatRequest = {
    model: call.upstreamModel,
    messages: convertToOpenAIMessages(request.messages, { flavour, cacheBreakpoints, warnings }),
    ...convertToOpenAIReasoning(request, flavour, warnings),
  };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.top_p = request.top_p;
  if (request.stop !== undefined) body.stop = request.stop;
  if (request.presence_penalty !== undefined) body.presence_penalty = request.presence_penalty;
  if (request.frequency_penalty !== undefined) body.frequency_penalty = request.frequency_penalty;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.response_format !== undefined) body.response_format = request.response_format;
  if (request.functions !== undefined) body.functions = request.functions;
  if (request.function_call !== undefined) body.function_call = request.function_call;
  if (request.tools !== undefined)
    body.tools = convertTools(call.request, cacheBreakpoints, flavour, warnings);
  if (request.tool_choice !== undefined) body.tool_choice = request.tool_choice;
  // OpenAI refuses parallel_tool_calls without tools; without them it means nothing.
  if (request.parallel_tool_calls !== undefined && request.tools !== undefined)
    body.parallel_tool_calls = request.parallel_tool_calls;
  if (request.user !== undefined) body.user = request.user;
  const provider = providerPreferences(request, context, warnings);
  if (provider !== undefined) body.provider = provider;
  return { body, warnings };
}

/**
 * Tools without their breakpoints: OpenAI caches by itself, and OpenRouter documents breakpoints on
 * message text only. Said so when the caller set them (not for the ones auto mode would add).
 */
function convertTools(
  request: CompleteChat,
  cacheBreakpoints: boolean,
  flavour: OpenAIFlavour,
  warnings: string[],
): OpenAI.Chat.Completions.ChatCompletionTool[] {
  const tools = request.tools ?? [];
  if (cacheBreakpoints && tools.some((tool) => tool.cache_control !== undefined))
    warnings.push(`cache_control on tools not sent: ${flavour.name} takes breakpoints on message text only`);
  return tools.map(({ type, function: definition }) => ({ type, function: definition }));
}

/** OpenRouter's `provider`: the request's preferences over the configured ones, field by field. */
function providerPreferences(
  request: CompleteChat,
  context: OpenAIRequestContext,
  warnings: string[],
): Record<string, unknown> | undefined {
  if (!context.flavour.openRouter) {
    if (request.provider_preferences !== undefined)
      warnings.push(`provider_preferences is OpenRouter's and was not sent to ${context.flavour.name}`);
    return undefined;
  }
  if (context.providerPreferences === undefined) return request.provider_preferences;
  return { ...context.providerPreferences, ...request.provider_preferences };
}
