import { describe, expect, it } from "vitest";
import { encodeSharedState, parseSharedState } from "./kv-breaker-state.js";

describe("shared breaker state", () => {
  it("reads back what a worker writes", () => {
    const shared = { state: "half_open" as const, opened_at: 1_767_225_600_000, by: "w1" };
    expect(parseSharedState(encodeSharedState(shared))).toEqual(shared);
  });

  it("is undefined for anything else a bucket may hold", () => {
    for (const text of [
      "yes",
      "null",
      "[]",
      JSON.stringify({ state: "sideways", opened_at: 1, by: "w" }),
      JSON.stringify({ state: "open", opened_at: "1", by: "w" }),
      JSON.stringify({ state: "open", opened_at: 1 }),
    ]) {
      expect(parseSharedState(text), text).toBeUndefined();
    }
  });

  it("keeps only the fields of a breaker state", () => {
    const text = JSON.stringify({ state: "open", opened_at: 5, by: "w", extra: "x" });
    expect(parseSharedState(text)).toEqual({ state: "open", opened_at: 5, by: "w" });
  });
});
