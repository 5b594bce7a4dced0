// The parts of a chat answer's usage that depend on the model and the prompt's history: reasoning
// (tokens for reasoning models; OpenRouter also returns the text), the prompt cache, and the cost
// OpenRouter reports.
import { createHash } from "node:crypto";
import { asObject, estimateTokens, splitWords, type JsonObject } from "../fake-http-server.js";
import { isReasoningModel } from "./request-checks.js";
import type { FakeChatReply, FakeFlavour, ServerState } from "./server-state.js";

/** Reasoning tokens a reasoning model spends per effort (unset: OpenAI's default, medium). */
const EFFORT_TOKENS: Record<string, number> = { none: 0, minimal: 16, low: 64, medium: 128, high: 256 };
/** OpenAI caches prompts from 1,024 tokens on, in steps of 128 tokens. */
export const CACHE_MIN_TOKENS = 1_024;
const CACHE_STEP_TOKENS = 128;
/** The fake's OpenRouter prices, USD per token: what it reports as `usage.cost`. */
const PRICE = { input: 1e-6, cacheRead: 0.25e-6, cacheWrite: 1.25e-6, output: 4e-6 };

export interface ReasoningPlan {
  /** OpenRouter's `message.reasoning`; OpenAI returns no reasoning text on Chat Completions. */
  text: string | undefined;
  tokens: number;
}

/**
 * OpenAI: a reasoning model reasons at the asked effort and reports only the count. OpenRouter:
 * reasoning is on for a reasoning model or when `reasoning` asks for it (effort "none" turns it
 * off), and its text comes back; a `reasoning.max_tokens` budget caps it.
 */
export function planReasoning(
  request: JsonObject,
  model: string,
  flavour: FakeFlavour,
  custom: FakeChatReply | undefined,
  lastText: string,
): ReasoningPlan {
  if (flavour === "openai") {
    if (!isReasoningModel(model)) return { text: undefined, tokens: 0 };
    const effort = request["reasoning_effort"];
    return { text: undefined, tokens: EFFORT_TOKENS[typeof effort === "string" ? effort : "medium"] ?? 0 };
  }
  const reasoning = asObject(request["reasoning"]);
  const on = reasoning ? reasoning["effort"] !== "none" : isReasoningModel(model);
  if (!on) return { text: undefined, tokens: 0 };
  const text = custom?.reasoning ?? `The user asks: ${lastText}. I should answer briefly.`;
  const budget = reasoning?.["max_tokens"];
  const words = splitWords(text).length;
  return { text, tokens: typeof budget === "number" ? Math.min(budget, words) : words };
}

export interface CachePlan {
  cachedTokens: number;
  /** OpenRouter, with breakpoints: prompt tokens written to the cache. */
  cacheWriteTokens: number;
}

/**
 * The prompt cache, by whole messages. Without breakpoints (OpenAI's automatic caching) a request
 * reads the longest prefix of messages an earlier request of the model had, when it is at least
 * 1,024 tokens, rounded down to a multiple of 128. With `cache_control` (OpenRouter) the prefix up
 * to the last message holding one is written the first time and read after. Short prompts are
 * neither read nor written, and cost no hashing.
 */
export function planPromptCache(
  state: ServerState,
  model: string,
  messages: unknown[],
  texts: string[],
  flavour: FakeFlavour,
): CachePlan {
  const none = { cachedTokens: 0, cacheWriteTokens: 0 };
  const cumulative: number[] = [];
  let chars = 0;
  for (const text of texts) cumulative.push(estimateTokens((chars += text.length)));
  if ((cumulative.at(-1) ?? 0) < CACHE_MIN_TOKENS) return none;
  const keys: string[] = [];
  let hash = model;
  for (const message of messages)
    keys.push((hash = createHash("sha1").update(hash).update(JSON.stringify(message)).digest("hex")));
  const breakpoint = flavour === "openrouter" ? lastIndexWithBreakpoint(messages) : -1;
  const seen = (index: number) => state.promptCache.has(keys[index]!);
  let plan = none;
  if (breakpoint >= 0) {
    const tokens = cumulative[breakpoint]!;
    if (tokens >= CACHE_MIN_TOKENS)
      plan = seen(breakpoint)
        ? { cachedTokens: tokens, cacheWriteTokens: 0 }
        : { cachedTokens: 0, cacheWriteTokens: tokens };
  } else {
    let longest = -1;
    while (longest + 1 < keys.length && seen(longest + 1)) longest++;
    const tokens = longest >= 0 ? cumulative[longest]! : 0;
    if (tokens >= CACHE_MIN_TOKENS)
      plan = { cachedTokens: tokens - (tokens % CACHE_STEP_TOKENS), cacheWriteTokens: 0 };
  }
  for (const key of keys) state.promptCache.add(key);
  return plan;
}

function lastIndexWithBreakpoint(messages: unknown[]): number {
  for (let index = messages.length - 1; index >= 0; index--) {
    const content = asObject(messages[index])?.["content"];
    if (Array.isArray(content) && content.some((part) => asObject(part)?.["cache_control"] !== undefined))
      return index;
  }
  return -1;
}

export interface UsageCounts {
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  cache: CachePlan;
}

/** What the OpenRouter fake reports a call cost, in USD, from its own prices. */
export function openRouterCost({ promptTokens, completionTokens, cache }: UsageCounts): number {
  const uncached = promptTokens - cache.cachedTokens - cache.cacheWriteTokens;
  const cost =
    uncached * PRICE.input +
    cache.cachedTokens * PRICE.cacheRead +
    cache.cacheWriteTokens * PRICE.cacheWrite +
    completionTokens * PRICE.output;
  return Number(cost.toFixed(9));
}

/** The `usage` object, as each API words it: OpenRouter adds cache writes and the cost. */
export function usageBody(counts: UsageCounts, flavour: FakeFlavour): JsonObject {
  const { promptTokens, completionTokens, reasoningTokens, cache } = counts;
  const common = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  if (flavour === "openai")
    return {
      ...common,
      prompt_tokens_details: { cached_tokens: cache.cachedTokens, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: reasoningTokens,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    };
  return {
    ...common,
    cost: openRouterCost(counts),
    is_byok: false,
    prompt_tokens_details: {
      cached_tokens: cache.cachedTokens,
      cache_write_tokens: cache.cacheWriteTokens,
      audio_tokens: 0,
    },
    cost_details: { upstream_inference_cost: null },
    completion_tokens_details: { reasoning_tokens: reasoningTokens },
  };
}
