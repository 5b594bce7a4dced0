import type { Cost } from "@llm-provider/contracts";

export interface Pricing {
  input_per_million: number;
  output_per_million: number;
  /** Prompt tokens read from a provider's prompt cache; unset: the input price. */
  cache_read_per_million?: number | undefined;
  /** Prompt tokens written to a provider's prompt cache; unset: the input price. */
  cache_write_per_million?: number | undefined;
  /** Reasoning tokens, where a provider prices them apart; unset: the output price. */
  reasoning_per_million?: number | undefined;
  /** This model's prices in a provider batch, as a share of the prices above; unset: its provider's. */
  batch_price_factor?: number | undefined;
}

/** A provider batch's share of the direct price when neither model nor provider sets one (OpenAI's, Anthropic's). */
export const DEFAULT_BATCH_PRICE_FACTOR = 0.5;

/**
 * The prices a request pays in a provider batch: every per-token price scaled by the model's
 * factor, else the provider's, else half. The one place the batch discount is decided.
 */
export function batchPricing(pricing: Pricing, providerFactor: number | undefined): Pricing {
  const factor = pricing.batch_price_factor ?? providerFactor ?? DEFAULT_BATCH_PRICE_FACTOR;
  const scale = (price: number | undefined) => (price === undefined ? undefined : price * factor);
  return {
    input_per_million: pricing.input_per_million * factor,
    output_per_million: pricing.output_per_million * factor,
    cache_read_per_million: scale(pricing.cache_read_per_million),
    cache_write_per_million: scale(pricing.cache_write_per_million),
    reasoning_per_million: scale(pricing.reasoning_per_million),
  };
}

/** Token counts of a chat call; the cache counts are parts of `promptTokens`. */
export interface ChatTokenCounts {
  promptTokens: number;
  completionTokens: number;
  cacheReadTokens?: number | undefined;
  cacheWriteTokens?: number | undefined;
  /** Part of `completionTokens`. */
  reasoningTokens?: number | undefined;
}

/** Rounds away binary floating-point noise (1e-12 USD is far below any provider's billing unit). */
function roundUsd(value: number): number {
  return Math.round(value * 1e12) / 1e12;
}

/** Cost of one call from token counts and per-million-token prices. */
export function computeCost(promptTokens: number, completionTokens: number, pricing: Pricing): Cost {
  const input = roundUsd((promptTokens * pricing.input_per_million) / 1_000_000);
  const output = roundUsd((completionTokens * pricing.output_per_million) / 1_000_000);
  return { currency: "USD", input, output, total: roundUsd(input + output) };
}

/**
 * Cost of one chat call. Cached prompt tokens and reasoning tokens get their own prices where the
 * model has them; their parts of `input` and `output` are reported beside (only when non-zero).
 * When the provider reported what it billed (`reportedTotalUsd`), that is the total: every part is
 * scaled to it in the proportion of the configured prices, or of the token counts when the model
 * has no prices.
 */
export function computeChatCost(usage: ChatTokenCounts, pricing: Pricing, reportedTotalUsd?: number): Cost {
  const cacheRead = usage.cacheReadTokens ?? 0;
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  const reasoning = Math.min(usage.reasoningTokens ?? 0, usage.completionTokens);
  const uncached = Math.max(0, usage.promptTokens - cacheRead - cacheWrite);
  const parts = {
    uncached: uncached * pricing.input_per_million,
    cacheRead: cacheRead * (pricing.cache_read_per_million ?? pricing.input_per_million),
    cacheWrite: cacheWrite * (pricing.cache_write_per_million ?? pricing.input_per_million),
    answer: (usage.completionTokens - reasoning) * pricing.output_per_million,
    reasoning: reasoning * (pricing.reasoning_per_million ?? pricing.output_per_million),
  };
  let scale = 1 / 1_000_000;
  if (reportedTotalUsd !== undefined) {
    const priced = Object.values(parts).reduce((sum, value) => sum + value, 0);
    if (priced === 0) {
      // No prices: share the billed total by token counts.
      parts.uncached = uncached;
      parts.cacheRead = cacheRead;
      parts.cacheWrite = cacheWrite;
      parts.answer = usage.completionTokens - reasoning;
      parts.reasoning = reasoning;
    }
    let weight = Object.values(parts).reduce((sum, value) => sum + value, 0);
    if (weight === 0) {
      parts.uncached = 1;
      weight = 1;
    }
    scale = reportedTotalUsd / weight;
  }
  const input = roundUsd((parts.uncached + parts.cacheRead + parts.cacheWrite) * scale);
  const total = reportedTotalUsd === undefined ? undefined : roundUsd(reportedTotalUsd);
  const output =
    total === undefined ? roundUsd((parts.answer + parts.reasoning) * scale) : roundUsd(total - input);
  const cost: Cost = { currency: "USD", input, output, total: total ?? roundUsd(input + output) };
  if (cacheRead > 0) cost.cache_read = roundUsd(parts.cacheRead * scale);
  if (cacheWrite > 0) cost.cache_write = roundUsd(parts.cacheWrite * scale);
  if (reasoning > 0) cost.reasoning = roundUsd(parts.reasoning * scale);
  return cost;
}

/** The sum of several costs (calls priced with different models' prices), without floating-point noise. */
export function sumCosts(costs: readonly Cost[]): Cost {
  const sum: Cost = { currency: "USD", input: 0, output: 0, total: 0 };
  for (const cost of costs) {
    sum.input += cost.input;
    sum.output += cost.output;
    for (const part of ["cache_read", "cache_write", "reasoning"] as const)
      if (cost[part] !== undefined) sum[part] = (sum[part] ?? 0) + cost[part];
  }
  sum.input = roundUsd(sum.input);
  sum.output = roundUsd(sum.output);
  sum.total = roundUsd(sum.input + sum.output);
  for (const part of ["cache_read", "cache_write", "reasoning"] as const)
    if (sum[part] !== undefined) sum[part] = roundUsd(sum[part]);
  return sum;
}
