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
});
