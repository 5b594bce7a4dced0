import type { Cost } from "@llm-provider/contracts";

export interface Pricing {
  input_per_million: number;
  output_per_million: number;
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
