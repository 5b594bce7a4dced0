import { describe, expect, it } from "vitest";
import type { ModelEntry } from "./catalog.js";
import {
  embeddingMismatchOf,
  findDimensionMismatch,
  resolveEmbeddingRequirement,
  upstreamDimensions,
} from "./embedding-requirements.js";
import { DEFAULT_MODEL_FEATURES } from "./catalog.js";

const embedder: ModelEntry = {
  model_name: "text-embedding-3-small",
  provider_id: "openai",
  context_window: 8191,
  max_tokens: 8191,
  cost: { input_per_million: 0.02, output_per_million: 0 },
  features: { ...DEFAULT_MODEL_FEATURES, chat: false, embedding: true },
  dimensions: 1536,
  configurable_dimensions: true,
};
const fixed: ModelEntry = {
  ...embedder,
  model_name: "bge-small",
  dimensions: 384,
  configurable_dimensions: false,
};
const chat: ModelEntry = {
  ...embedder,
  model_name: "gpt-4o-mini",
  features: { ...DEFAULT_MODEL_FEATURES, function_calling: true, streaming: true },
  dimensions: undefined,
};

describe("resolveEmbeddingRequirement", () => {
  it("takes the native length by default and a shorter one where the model allows it", () => {
    expect(resolveEmbeddingRequirement(embedder, undefined)).toEqual({
      requirement: { dimensions: 1536, nativeDimensions: 1536 },
    });
    expect(resolveEmbeddingRequirement(embedder, 256)).toEqual({
      requirement: { dimensions: 256, nativeDimensions: 1536 },
    });
    expect(resolveEmbeddingRequirement(fixed, 384)).toEqual({
      requirement: { dimensions: 384, nativeDimensions: 384 },
    });
  });

  it("refuses chat models, other lengths on fixed models, and lengths above the native one", () => {
    expect(resolveEmbeddingRequirement(chat, undefined)).toEqual({
      mismatch: {
        kind: "unsupported",
        field: "model",
        message: "model 'gpt-4o-mini' does not support embeddings (it is a chat model)",
      },
    });
    expect(resolveEmbeddingRequirement(fixed, 128)).toMatchObject({
      mismatch: { kind: "unsupported", field: "dimensions" },
    });
    expect(resolveEmbeddingRequirement(embedder, 4096)).toMatchObject({
      mismatch: { kind: "invalid_request", field: "dimensions" },
    });
  });
});

describe("fallback targets", () => {
  const native = { dimensions: 1536, nativeDimensions: 1536 };
  const shortened = { dimensions: 256, nativeDimensions: 1536 };

  it("serve only from the same vector space, shortening only where configurable", () => {
    expect(embeddingMismatchOf(embedder, native)).toBeUndefined();
    expect(embeddingMismatchOf(embedder, shortened)).toBeUndefined();
    expect(embeddingMismatchOf({ ...embedder, configurable_dimensions: false }, shortened)).toBeDefined();
    expect(embeddingMismatchOf(fixed, native)).toBeDefined();
    expect(embeddingMismatchOf(chat, native)).toBeDefined();
  });

  it("are sent dimensions only when it differs from their native length", () => {
    expect(upstreamDimensions(embedder, native)).toBeUndefined();
    expect(upstreamDimensions(embedder, shortened)).toBe(256);
  });
});

describe("findDimensionMismatch", () => {
  it("names the first vector of the wrong length", () => {
    const vectors = [new Float32Array(4), new Float32Array(3), new Float32Array(5)];
    expect(findDimensionMismatch(vectors, 4)).toEqual({ index: 1, length: 3 });
    expect(findDimensionMismatch(vectors.slice(0, 1), 4)).toBeUndefined();
  });
});
