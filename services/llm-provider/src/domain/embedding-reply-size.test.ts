import { describe, expect, it } from "vitest";
import { encodeFloat32Base64 } from "./embedding-vector.js";
import { float32ToJsonText } from "../codecs/float32-json.js";
import {
  checkEmbeddingReplySize,
  minimumEmbeddingReplyBytes,
  minimumVectorBytes,
  typicalEmbeddingReplyBytes,
} from "./embedding-reply-size.js";

describe("minimumVectorBytes", () => {
  it("is the exact JSON string length for base64", () => {
    for (const dimensions of [1, 2, 3, 256, 1536]) {
      const json = JSON.stringify(encodeFloat32Base64(new Float32Array(dimensions).fill(0.3)));
      expect(minimumVectorBytes(dimensions, "base64")).toBe(json.length);
    }
  });
  it("is a lower bound for floats", () => {
    const json = JSON.stringify(Array.from(new Float32Array(1536).fill(0)));
    expect(minimumVectorBytes(1536, "float")).toBeLessThanOrEqual(json.length);
  });
});

describe("checkEmbeddingReplySize", () => {
  it("lets a fitting reply through", () => {
    expect(checkEmbeddingReplySize(1_000, 10, 1_000, "float")).toBeUndefined();
  });

  it("says how many items per request fit, and suggests base64 for floats", () => {
    const problem = checkEmbeddingReplySize(3_000_000, 300, 1_000_000, "float");
    expect(problem?.details).toEqual({
      reply_bytes: 3_000_000,
      max_reply_bytes: 1_000_000,
      items: 300,
      max_items_per_request: 95,
      encoding_format: "float",
    });
    expect(problem?.message).toContain("split the batch into requests of at most 95 items");
    expect(problem?.message).toContain('encoding_format "base64"');
    expect(checkEmbeddingReplySize(3_000_000, 300, 1_000_000, "base64")?.message).not.toContain("base64");
  });

  it("says so when a single item does not fit", () => {
    expect(checkEmbeddingReplySize(50_000, 1, 10_000, "base64")?.message).toContain(
      "a single item does not fit",
    );
  });

  it("knows before any call when a batch cannot fit", () => {
    const bytes = minimumEmbeddingReplyBytes(2048, 3072, "base64");
    expect(bytes).toBeGreaterThan(16 * 1024 * 1024);
    expect(checkEmbeddingReplySize(bytes, 2048, 1_048_576, "base64")?.details.max_items_per_request).toBe(
      Math.floor((1_048_576 * 0.95) / (bytes / 2048)),
    );
  });
});

describe("typicalEmbeddingReplyBytes", () => {
  it("is not below the real size of a base64 reply, nor of a float reply", () => {
    const item = (index: number, embedding: unknown) => ({
      index,
      embedding,
      dimensions: 256,
      input_ref: `v1.${"0".repeat(64)}`,
      model: "text-embedding-3-small",
      cached: false,
    });
    const vector = new Float32Array(256).map((_, index) => Math.fround(Math.sin(index) / 16));
    const envelope = (data: unknown[]) =>
      JSON.stringify({
        request_id: "0f4b8a39-7f2f-4a42-9a53-0c1e8d9b6a7e",
        model: "text-embedding-3-small",
        provider_id: "openai",
        data,
        usage: {
          prompt_tokens: 1000,
          total_tokens: 1000,
          cost: { currency: "USD", input: 0.00002, output: 0, total: 0.00002 },
        },
        latency_ms: 12.345,
      }).length;
    const base64 = envelope(
      Array.from({ length: 100 }, (_, index) => item(index, encodeFloat32Base64(vector))),
    );
    // As the reply writes them: each float32's shortest round-trip text.
    const shortest = Array.from(vector, (value) => Number(float32ToJsonText(value)));
    const floats = envelope(Array.from({ length: 100 }, (_, index) => item(index, shortest)));
    const typicalBase64 = typicalEmbeddingReplyBytes(100, 256, "base64", "text-embedding-3-small");
    expect(typicalBase64).toBeGreaterThanOrEqual(base64 - 200);
    expect(typicalBase64).toBeLessThan(base64 * 1.05);
    const typicalFloats = typicalEmbeddingReplyBytes(100, 256, "float", "text-embedding-3-small");
    expect(typicalFloats).toBeGreaterThanOrEqual(floats);
    expect(typicalFloats).toBeLessThan(floats * 1.6); // generous, not wildly off
  });
});
