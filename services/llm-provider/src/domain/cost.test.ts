import { describe, expect, it } from "vitest";
import { batchPricing, computeChatCost, computeCost } from "./cost.js";

describe("computeCost", () => {
  it("prices input and output tokens per million", () => {
    expect(computeCost(1_000, 500, { input_per_million: 0.15, output_per_million: 0.6 })).toEqual({
      currency: "USD",
      input: 0.00015,
      output: 0.0003,
      total: 0.00045,
    });
  });
  it("has no floating-point noise and is zero for free models", () => {
    expect(computeCost(3, 7, { input_per_million: 0.1, output_per_million: 0.2 }).total).toBe(0.0000017);
    expect(computeCost(123, 456, { input_per_million: 0, output_per_million: 0 }).total).toBe(0);
  });
});

describe("computeChatCost", () => {
  const pricing = { input_per_million: 3, output_per_million: 15 };

  it("prices cached prompt tokens at their own rates, else at the input price", () => {
    const usage = {
      promptTokens: 1_000_000,
      completionTokens: 0,
      cacheReadTokens: 600_000,
      cacheWriteTokens: 100_000,
    };
    // 300k uncached × $3 + 600k read × $0.30 + 100k written × $3.75
    expect(
      computeChatCost(usage, { ...pricing, cache_read_per_million: 0.3, cache_write_per_million: 3.75 })
        .input,
    ).toBe(1.455);
    expect(computeChatCost(usage, pricing).input).toBe(3);
  });
  it("reports the cache and reasoning parts of input and output beside them", () => {
    const usage = {
      promptTokens: 10_000,
      completionTokens: 3_000,
      cacheReadTokens: 8_000,
      cacheWriteTokens: 1_000,
      reasoningTokens: 2_000,
    };
    const priced = { ...pricing, cache_read_per_million: 0.3, cache_write_per_million: 3.75 };
    expect(computeChatCost(usage, priced)).toEqual({
      currency: "USD",
      input: 0.00915, // 1k × $3 + 8k × $0.30 + 1k × $3.75
      output: 0.045, // 3k × $15, reasoning included
      total: 0.05415,
      cache_read: 0.0024,
      cache_write: 0.00375,
      reasoning: 0.03,
    });
    expect(computeChatCost(usage, { ...priced, reasoning_per_million: 10 })).toMatchObject({
      output: 0.035,
      reasoning: 0.02,
    });
    expect(computeChatCost({ promptTokens: 10, completionTokens: 5 }, pricing)).not.toHaveProperty(
      "reasoning",
    );
  });
  it("scales the parts to a reported total", () => {
    const usage = { promptTokens: 1_000, completionTokens: 100, cacheReadTokens: 1_000 };
    // configured: input 1k × $0.30 = $0.0003, output $0.0015; reported twice that
    const cost = computeChatCost(usage, { ...pricing, cache_read_per_million: 0.3 }, 0.0036);
    expect(cost).toEqual({
      currency: "USD",
      input: 0.0006,
      output: 0.003,
      total: 0.0036,
      cache_read: 0.0006,
    });
  });
  it("takes the provider-reported total and splits it like the configured prices", () => {
    // configured: input $0.003, output $0.0015 → two thirds input
    expect(computeChatCost({ promptTokens: 1_000, completionTokens: 100 }, pricing, 0.009)).toEqual({
      currency: "USD",
      input: 0.006,
      output: 0.003,
      total: 0.009,
    });
  });
  it("splits a reported total by token counts when the model has no prices", () => {
    const free = { input_per_million: 0, output_per_million: 0 };
    expect(computeChatCost({ promptTokens: 300, completionTokens: 100 }, free, 0.004)).toEqual({
      currency: "USD",
      input: 0.003,
      output: 0.001,
      total: 0.004,
    });
    expect(computeChatCost({ promptTokens: 0, completionTokens: 0 }, free, 0).total).toBe(0);
  });
});

describe("batchPricing", () => {
  const pricing = { input_per_million: 3, output_per_million: 15, cache_read_per_million: 0.3 };

  it("scales every price by the provider's factor, half when the provider sets none", () => {
    const priced = batchPricing(pricing, 0.4);
    expect(priced.input_per_million).toBeCloseTo(1.2, 12);
    expect(priced.output_per_million).toBeCloseTo(6, 12);
    expect(priced.cache_read_per_million).toBeCloseTo(0.12, 12);
    expect(priced.cache_write_per_million).toBeUndefined();
    expect(computeCost(1_000_000, 1_000_000, batchPricing(pricing, undefined)).total).toBe(9);
  });
  it("takes the model's own factor over the provider's", () => {
    const priced = batchPricing({ ...pricing, batch_price_factor: 0.25 }, 0.5);
    expect(computeCost(1_000_000, 0, priced).total).toBe(0.75);
  });
});
