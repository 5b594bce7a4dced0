import { describe, expect, it } from "vitest";
import { EmbeddingMemoryTier } from "./embedding-memory-tier.js";

const embedding = (createdAt: number, dimensions = 4) => ({
  vector: new Float32Array(dimensions),
  model: "m",
  providerId: "p",
  createdAt,
});

describe("EmbeddingMemoryTier", () => {
  it("answers what it holds until the bucket's TTL would have removed it", () => {
    let now = 1_000;
    const tier = new EmbeddingMemoryTier(1_000_000, 500, () => now);
    const stored = embedding(900);
    tier.set("k", stored);
    expect(tier.get("k")).toBe(stored);
    now = 1_399;
    expect(tier.get("k")).toBe(stored);
    now = 1_400;
    expect(tier.get("k")).toBeUndefined();
    expect(tier.size).toBe(0);
    expect(tier.bytes).toBe(0);
    tier.set("old", embedding(100));
    expect(tier.size).toBe(0);
  });

  it("drops the least recently used entries beyond its byte bound", () => {
    const entryBytes = 4 * 256 + 2 + 200;
    const tier = new EmbeddingMemoryTier(entryBytes * 2, 60_000, () => 0);
    tier.set("k1", embedding(0, 256));
    tier.set("k2", embedding(0, 256));
    tier.get("k1");
    tier.set("k3", embedding(0, 256));
    expect(tier.get("k2")).toBeUndefined();
    expect(tier.get("k1")).toBeDefined();
    expect(tier.get("k3")).toBeDefined();
    expect(tier.bytes).toBe(entryBytes * 2);
  });

  it("replaces an entry in place and never holds one larger than its bound", () => {
    const tier = new EmbeddingMemoryTier(2_000, 60_000, () => 0);
    tier.set("k", embedding(0, 4));
    tier.set("k", embedding(0, 8));
    expect(tier.size).toBe(1);
    expect(tier.bytes).toBe(8 * 4 + 1 + 200);
    tier.set("huge", embedding(0, 1_000));
    expect(tier.get("huge")).toBeUndefined();
  });
});
