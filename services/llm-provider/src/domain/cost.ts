import type { Cost } from "@llm-provider/contracts";

export interface Pricing {
  input_per_million: number;
  output_per_million: number;
  /** Prompt tokens read from a provider's prompt cache; unset: the input price. */
  cache_read_per_million?: number | undefined;
  /** Prompt tokens written to a provider's prompt cache; unset: the input price. */
  cache_write_per_million?: number | undefined;
}

/** Token counts of a chat call; the cache counts are parts of `promptTokens`. */
export interface ChatTokenCounts {
  promptTokens: number;
  completionTokens: number;
  cacheReadTokens?: number | undefined;
  cacheWriteTokens?: number | undefined;
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
 * Cost of one chat call. Cached prompt tokens get their own prices. When the provider reported
 * what it billed (`reportedTotalUsd`), that is the total: it is split into input and output in the
 * proportion of the configured prices, or of the token counts when the model has no prices.
 */
export function computeChatCost(usage: ChatTokenCounts, pricing: Pricing, reportedTotalUsd?: number): Cost {
  const cacheRead = usage.cacheReadTokens ?? 0;
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  const uncached = Math.max(0, usage.promptTokens - cacheRead - cacheWrite);
  const inputPerMillion =
    uncached * pricing.input_per_million +
    cacheRead * (pricing.cache_read_per_million ?? pricing.input_per_million) +
    cacheWrite * (pricing.cache_write_per_million ?? pricing.input_per_million);
  const input = roundUsd(inputPerMillion / 1_000_000);
  const output = roundUsd((usage.completionTokens * pricing.output_per_million) / 1_000_000);
  if (reportedTotalUsd === undefined)
    return { currency: "USD", input, output, total: roundUsd(input + output) };

  const priced = input + output > 0;
  const inputWeight = priced ? input : usage.promptTokens;
  const outputWeight = priced ? output : usage.completionTokens;
  const inputShare = inputWeight + outputWeight > 0 ? inputWeight / (inputWeight + outputWeight) : 1;
  const reportedInput = roundUsd(reportedTotalUsd * inputShare);
  return {
    currency: "USD",
    input: reportedInput,
    output: roundUsd(reportedTotalUsd - reportedInput),
    total: roundUsd(reportedTotalUsd),
  };
}

/** The sum of several costs (calls priced with different models' prices), without floating-point noise. */
export function sumCosts(costs: readonly Cost[]): Cost {
  let input = 0;
  let output = 0;
  for (const cost of costs) {
    input += cost.input;
    output += cost.output;
  }
  return {
    currency: "USD",
    input: roundUsd(input),
    output: roundUsd(output),
    total: roundUsd(input + output),
  };
}
