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

  it("evicts like CLOCK: the hand spares a read entry once and goes on from where it stopped", () => {
    const entryBytes = 4 * 256 + 2 + 200;
    const tier = new EmbeddingMemoryTier(entryBytes * 3, 60_000, () => 0);
    for (const key of ["k1", "k2", "k3"]) tier.set(key, embedding(0, 256));
    tier.get("k1");
    tier.set("k4", embedding(0, 256)); // k1 spared (mark cleared), k2 dropped
    tier.set("k5", embedding(0, 256)); // the hand goes on: k3, not k1, read after k3 was stored
    expect(["k1", "k2", "k3", "k4", "k5"].map((key) => tier.get(key) !== undefined)).toEqual([
      true,
      false,
      false,
      true,
      true,
    ]);
    for (let index = 6; index < 1_000; index++) tier.set(`k${index}`, embedding(0, 256));
    expect(tier.size).toBe(3);
    expect(tier.bytes).toBe(entryBytes * 3);
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

  it("answers a set of keys only when it holds every one", () => {
    const tier = new EmbeddingMemoryTier(1_000_000, 60_000, () => 0);
    const [a, b] = [embedding(10), embedding(20)];
    tier.set("a", a);
    tier.set("b", b);
    expect(tier.getAll(["b", "a"])).toEqual([b, a]);
    expect(tier.getAll(["a", "c"])).toBeUndefined();
    expect(tier.getAll([])).toEqual([]);
  });
});
