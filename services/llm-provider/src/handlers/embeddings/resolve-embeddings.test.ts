import { LlmProviderError } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import type {
  CacheClaim,
  CacheSlot,
  CachedEmbedding,
  EmbeddingCache,
  SettledSlot,
} from "../../ports/embedding-cache.js";
import { resolveEmbeddings } from "./resolve-embeddings.js";
import type { ComputeBatch } from "./resolve-embeddings.js";

const vectorOf = (text: string) => new Float32Array([text.length, text.charCodeAt(0)]);
const cachedOf = (text: string): CachedEmbedding => ({
  vector: vectorOf(text),
  model: "m",
  providerId: "p-cache",
  createdAt: 1,
});

/** An in-memory cache whose answer per key the test decides; it records fills and releases. */
function fakeCache(slotFor: (key: string, index: number) => CacheSlot) {
  const filled: string[] = [];
  const released: string[] = [];
  const cache: EmbeddingCache = {
    acquire: (keys) => Promise.resolve(keys.map(slotFor)),
    fill: (entries) => {
      filled.push(...entries.map((entry) => entry.claim.key));
      return Promise.resolve();
    },
    release: (claims) => {
      released.push(...claims.map((claim) => claim.key));
      return Promise.resolve();
    },
  };
  return { cache, filled, released };
}

const claimed = (key: string): SettledSlot => ({
  kind: "claimed",
  claim: { key, revision: 1 } satisfies CacheClaim,
});

function recordingCompute(options: { failOn?: string; delayMs?: number } = {}) {
  const calls: string[][] = [];
  let running = 0;
  let maxRunning = 0;
  const compute: ComputeBatch = async (texts, signal) => {
    calls.push(texts);
    running++;
    maxRunning = Math.max(maxRunning, running);
    try {
      await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 1));
      if (options.failOn !== undefined && texts.includes(options.failOn)) {
        throw new LlmProviderError("upstream_bad_request", "provider refused the batch");
      }
      signal.throwIfAborted();
      return {
        vectors: texts.map(vectorOf),
        model: "m",
        providerId: "p-up",
        promptTokens: texts.length,
        countedTokens: texts.length,
        cost: { currency: "USD", input: texts.length / 1e6, output: 0, total: texts.length / 1e6 },
        attempts: [],
        warnings: [],
      };
    } finally {
      running--;
    }
  };
  return { compute, calls, maxRunning: () => maxRunning };
}

const base = {
  maxBatchSize: 2048,
  maxParallelCalls: 4,
  deadline: Infinity,
  signal: new AbortController().signal,
};

describe("resolveEmbeddings", () => {
  it("answers hits from the cache, sends only misses upstream and stores them, in key order", async () => {
    const texts = ["alpha", "beta", "gamma", "delta"];
    const keys = texts.map((text) => `k-${text}`);
    const { cache, filled, released } = fakeCache((key, index) =>
      index % 2 === 0 ? { kind: "hit", embedding: cachedOf(texts[index]!) } : claimed(key),
    );
    const { compute, calls } = recordingCompute();
    const resolution = await resolveEmbeddings({ ...base, keys, texts, cache, compute });
    expect(calls).toEqual([["beta", "delta"]]);
    expect(resolution.embeddings.map((embedding) => [embedding.cached, embedding.providerId])).toEqual([
      [true, "p-cache"],
      [false, "p-up"],
      [true, "p-cache"],
      [false, "p-up"],
    ]);
    expect(resolution.embeddings.map((embedding) => Array.from(embedding.vector))).toEqual(
      texts.map((text) => Array.from(vectorOf(text))),
    );
    expect(filled).toEqual(["k-beta", "k-delta"]);
    expect(released).toEqual([]);
  });

  it("answers keys the worker has at hand without acquiring, computing or storing anything", async () => {
    const texts = ["alpha", "beta"];
    const keys = texts.map((text) => `k-${text}`);
    let acquired = 0;
    const { cache, filled } = fakeCache(() => claimed("unused"));
    cache.acquire = () => {
      acquired++;
      return Promise.reject(new Error("acquire must not be called"));
    };
    cache.peekAll = (asked) => asked.map((key) => cachedOf(key.slice(2)));
    const { compute, calls } = recordingCompute();
    const resolution = await resolveEmbeddings({ ...base, keys, texts, cache, compute });
    expect(acquired).toBe(0);
    expect(calls).toEqual([]);
    expect(filled).toEqual([]);
    expect(resolution.batches).toEqual([]);
    expect(resolution.embeddings.map((embedding) => [embedding.cached, embedding.providerId])).toEqual([
      [true, "p-cache"],
      [true, "p-cache"],
    ]);
    expect(resolution.embeddings.map((embedding) => Array.from(embedding.vector))).toEqual(
      texts.map((text) => Array.from(vectorOf(text))),
    );
  });

  it("goes through acquire when not every key is at hand", async () => {
    const texts = ["alpha", "beta"];
    const keys = texts.map((text) => `k-${text}`);
    const { cache, filled } = fakeCache((key) => claimed(key));
    cache.peekAll = () => undefined;
    const { compute, calls } = recordingCompute();
    const resolution = await resolveEmbeddings({ ...base, keys, texts, cache, compute });
    expect(calls).toEqual([texts]);
    expect(filled).toEqual(keys);
    expect(resolution.embeddings.every((embedding) => !embedding.cached)).toBe(true);
  });

  it("splits misses into batches of the provider's size, a bounded number at once", async () => {
    const texts = Array.from({ length: 10 }, (_, index) => `t${index}`);
    const { cache, filled } = fakeCache((key) => claimed(key));
    const recorder = recordingCompute({ delayMs: 5 });
    await resolveEmbeddings({
      ...base,
      maxBatchSize: 2,
      maxParallelCalls: 3,
      keys: texts,
      texts,
      cache,
      compute: recorder.compute,
    });
    expect(recorder.calls.map((call) => call.length)).toEqual([2, 2, 2, 2, 2]);
    expect(recorder.maxRunning()).toBe(3);
    expect([...filled].sort()).toEqual([...texts].sort());
  });

  it("computes uncached keys without storing them", async () => {
    const { cache, filled } = fakeCache((): CacheSlot => ({ kind: "uncached" }));
    const { compute } = recordingCompute();
    const resolution = await resolveEmbeddings({ ...base, keys: ["k"], texts: ["x"], cache, compute });
    expect(resolution.embeddings[0]?.cached).toBe(false);
    expect(filled).toEqual([]);
  });

  it("waits for keys others compute, and computes those whose claim it took over", async () => {
    const texts = ["mine", "theirs", "abandoned"];
    const { cache, filled } = fakeCache((key, index): CacheSlot => {
      if (index === 0) return claimed(key);
      const settled: SettledSlot =
        index === 1 ? { kind: "hit", embedding: cachedOf("theirs") } : claimed(key);
      return { kind: "pending", settled: new Promise((resolve) => setTimeout(() => resolve(settled), 5)) };
    });
    const { compute, calls } = recordingCompute();
    const resolution = await resolveEmbeddings({ ...base, keys: texts, texts, cache, compute });
    expect(calls).toEqual([["mine"], ["abandoned"]]);
    expect(resolution.embeddings.map((embedding) => embedding.cached)).toEqual([false, true, false]);
    expect(filled).toEqual(["mine", "abandoned"]);
  });

  it("on a failure mid-batch keeps the finished batches, releases every other claim, and throws", async () => {
    const texts = ["a1", "a2", "b1", "b2", "c1", "c2", "d1"];
    const { cache, filled, released } = fakeCache((key) => claimed(key));
    const { compute } = recordingCompute({ failOn: "b1", delayMs: 2 });
    const failure = resolveEmbeddings({
      ...base,
      maxBatchSize: 2,
      maxParallelCalls: 1,
      keys: texts,
      texts,
      cache,
      compute,
    });
    await expect(failure).rejects.toMatchObject({ code: "upstream_bad_request" });
    expect(filled).toEqual(["a1", "a2"]);
    expect([...released].sort()).toEqual(["b1", "b2", "c1", "c2", "d1"]);
  });

  it("releases a claim a waiter took over after the request already failed", async () => {
    let settleLate: (slot: SettledSlot) => void = () => undefined;
    const { cache, released } = fakeCache((key, index): CacheSlot =>
      index === 0
        ? claimed(key)
        : { kind: "pending", settled: new Promise((resolve) => (settleLate = resolve)) },
    );
    const { compute } = recordingCompute({ failOn: "x" });
    const failure = resolveEmbeddings({ ...base, keys: ["x", "y"], texts: ["x", "y"], cache, compute });
    setTimeout(() => settleLate(claimed("y")), 20);
    await expect(failure).rejects.toMatchObject({ code: "upstream_bad_request" });
    expect([...released].sort()).toEqual(["x", "y"]);
  });
});
