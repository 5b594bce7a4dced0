import { describe, expect, it } from "vitest";
import { dedupeEmbeddingInputs, estimateEmbeddingTokens, splitIntoBatches } from "./embedding-batch.js";

describe("dedupeEmbeddingInputs", () => {
  it("folds identical inputs together in first-seen order and maps every position back", () => {
    const inputs = ["a", "b", "a", "c", "b"];
    const deduped = dedupeEmbeddingInputs(
      inputs,
      inputs.map((text) => `k-${text}`),
    );
    expect(deduped).toEqual({
      texts: ["a", "b", "c"],
      keys: ["k-a", "k-b", "k-c"],
      positions: [0, 1, 0, 2, 1],
    });
    expect(deduped.positions.map((index) => deduped.texts[index])).toEqual(inputs);
  });
});

describe("splitIntoBatches", () => {
  it("cuts into consecutive slices of at most the batch size", () => {
    expect(splitIntoBatches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(splitIntoBatches([1, 2], 2048)).toEqual([[1, 2]]);
    expect(splitIntoBatches([], 3)).toEqual([]);
  });
  it("refuses a batch size below one", () => {
    expect(() => splitIntoBatches([1], 0)).toThrow(RangeError);
  });
});

describe("estimateEmbeddingTokens", () => {
  it("counts about four characters per token", () => {
    expect(estimateEmbeddingTokens(["abcd", "abcdefgh", "a"])).toBe(4);
  });
});
