import { z } from "zod";
import type { ChatUsage } from "../../ports/provider-client.js";

/** Lenient: the `usage` of a chat completion, or of the last chunk of a stream (`include_usage`). */
export const openAIUsageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  prompt_tokens_details: z
    .object({
      // Part of prompt_tokens read from the prompt cache (OpenAI caches prompts of 1,024+ tokens itself).
      cached_tokens: z.number().int().nonnegative().nullish(),
      // OpenRouter's count of prompt tokens written to the provider's cache.
      cache_write_tokens: z.number().int().nonnegative().nullish(),
    })
    .nullish(),
  completion_tokens_details: z
    .object({
      // Part of completion_tokens the model spent reasoning (o-series, GPT-5, and OpenRouter's models).
      reasoning_tokens: z.number().int().nonnegative().nullish(),
    })
    .nullish(),
  // OpenRouter: what the call cost, in credits (1 credit = 1 USD).
  cost: z.number().nonnegative().nullish(),
});
export type OpenAIUsage = z.output<typeof openAIUsageSchema>;

/** Token counts, cache reads and writes and reasoning included, the same whether the answer streamed or not. */
export function convertOpenAIUsage(usage: OpenAIUsage): ChatUsage {
  const converted: ChatUsage = {
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
  };
  const cacheRead = usage.prompt_tokens_details?.cached_tokens;
  const cacheWrite = usage.prompt_tokens_details?.cache_write_tokens;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  if (cacheRead) converted.cacheReadTokens = cacheRead;
  if (cacheWrite) converted.cacheWriteTokens = cacheWrite;
  if (reasoning) converted.reasoningTokens = reasoning;
  return converted;
}
