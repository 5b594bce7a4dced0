import { describe, expect, it } from "vitest";
import { createEmbeddingKeyDeriver } from "./embedding-key.js";

const scope = { model: "text-embedding-3-small", upstreamModel: "text-embedding-3-small", dimensions: 1536 };

describe("createEmbeddingKeyDeriver", () => {
  it("is a KV-safe, versioned sha256 that depends only on scope and text", () => {
    const key = createEmbeddingKeyDeriver(scope)("hello world");
    expect(key).toMatch(/^v1\.[0-9a-f]{64}$/);
    expect(key).toMatch(/^[-/=.\w]+$/);
    expect(createEmbeddingKeyDeriver({ ...scope })("hello world")).toBe(key);
  });

  it("changes with the model, the upstream model, the dimensions and every byte of the text", () => {
    const base = createEmbeddingKeyDeriver(scope)("hello world");
    expect(createEmbeddingKeyDeriver({ ...scope, model: "other" })("hello world")).not.toBe(base);
    expect(
      createEmbeddingKeyDeriver({ ...scope, upstreamModel: "text-embedding-3-small@v2" })("hello world"),
    ).not.toBe(base);
    expect(createEmbeddingKeyDeriver({ ...scope, dimensions: 256 })("hello world")).not.toBe(base);
    expect(createEmbeddingKeyDeriver(scope)("hello world ")).not.toBe(base);
    expect(createEmbeddingKeyDeriver(scope)("Hello world")).not.toBe(base);
    // A caller's own key space (embedding_cache.scope: caller) meets neither the shared one nor another's.
    const memory = createEmbeddingKeyDeriver({ ...scope, caller: "memory" })("hello world");
    expect(
      new Set([base, memory, createEmbeddingKeyDeriver({ ...scope, caller: "ingest" })("hello world")]).size,
    ).toBe(3);
  });

  it("cannot be fooled by moving characters between model name and text", () => {
    const a = createEmbeddingKeyDeriver({ model: "ab", upstreamModel: "x", dimensions: 8 })("c");
    const b = createEmbeddingKeyDeriver({ model: "a", upstreamModel: "x", dimensions: 8 })("bc");
    expect(a).not.toBe(b);
  });

  it("derives the same key for each input however many it derived before", () => {
    const derive = createEmbeddingKeyDeriver(scope);
    const first = derive("a");
    derive("b");
    expect(derive("a")).toBe(first);
  });

  it("keeps the keys the cache already holds: the derivation is pinned", () => {
    // sha256 of "9:émbed|22:text-embedding-3-small|256|" followed by the text, in UTF-8. A
    // change here would orphan every cached vector: bump EMBEDDING_KEY_VERSION instead.
    const derive = createEmbeddingKeyDeriver({
      model: "émbed",
      upstreamModel: "text-embedding-3-small",
      dimensions: 256,
    });
    expect(derive("hello \u{1F600}")).toBe(
      "v1.60743dcc6f8dd17c68adf3d39299f05a49b85b74c303606515bf131aa9271fa6",
    );
  });
});
