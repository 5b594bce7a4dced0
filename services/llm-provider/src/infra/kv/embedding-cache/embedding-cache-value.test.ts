import { describe, expect, it } from "vitest";
import { decodeCacheValue, encodeClaim, encodeVectorEntry } from "./embedding-cache-value.js";

const embedding = {
  vector: new Float32Array([0.25, -1, 3.5]),
  model: "text-embedding-3-small",
  providerId: "openai",
  createdAt: 1_767_225_600_123,
};

describe("embedding cache values", () => {
  it("store a vector as a small header and raw float32, not JSON", () => {
    const bytes = encodeVectorEntry(embedding);
    expect(bytes.length).toBe(18 + embedding.model.length + embedding.providerId.length + 3 * 4);
    expect(Array.from(bytes.subarray(0, 2))).toEqual([1, 1]);
    expect(Array.from(bytes.subarray(bytes.length - 4))).toEqual([0x00, 0x00, 0x60, 0x40]); // 3.5 LE
    expect(decodeCacheValue(bytes)).toEqual({ kind: "vector", dimensions: 3, ...embedding });
  });

  it("read a vector stored at any offset of a larger buffer", () => {
    const bytes = encodeVectorEntry(embedding);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(decodeCacheValue(shifted.subarray(3))).toMatchObject({ vector: embedding.vector });
  });

  it("store a claim with its time and owner", () => {
    expect(decodeCacheValue(encodeClaim(1_767_225_600_000, "host-a:4242"))).toEqual({
      kind: "claim",
      claimedAt: 1_767_225_600_000,
      owner: "host-a:4242",
    });
  });

  it("read truncated, foreign or future values as nothing", () => {
    const bytes = encodeVectorEntry(embedding);
    expect(decodeCacheValue(bytes.subarray(0, bytes.length - 1))).toBeUndefined();
    expect(decodeCacheValue(new TextEncoder().encode('{"vector":[1,2]}'))).toBeUndefined();
    const future = Uint8Array.from(bytes);
    future[1] = 2;
    expect(decodeCacheValue(future)).toBeUndefined();
    expect(decodeCacheValue(new Uint8Array(0))).toBeUndefined();
  });
});
