import { describe, expect, it } from "vitest";
import { computeCost } from "./cost.js";

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
