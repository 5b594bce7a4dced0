import type { EmbeddingResult } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import { encodeFloat32Base64 } from "../../domain/embedding-vector.js";
import { float32ToJsonText } from "../../codecs/float32-json.js";
import type { EmbeddingReply } from "./build-embedding-reply.js";
import { encodeEmbeddingResult } from "./encode-embedding-result.js";

function reply(encoding: EmbeddingReply["encoding"], vectors: Float32Array[]): EmbeddingReply {
  return {
    request_id: 'req-ünïcode-\u2603-"quoted"',
    model: "modèle/ä",
    provider_id: "p0",
    encoding,
    data: vectors.map((vector, index) => ({
      index,
      vector,
      dimensions: 3,
      input_ref: `v1.${String(index).repeat(64)}`,
      model: index === 1 ? "fallback-модель" : "modèle/ä",
      cached: index % 2 === 0,
    })),
    usage: {
      prompt_tokens: 12,
      total_tokens: 12,
      cost: { currency: "USD", input: 0.0000024, output: 0, total: 0.0000024 },
    },
    latency_ms: 1.234,
    warnings: ["provider did not report token usage; cost is 0"],
  };
}

/**
 * What the reply is on the wire, built the slow, obvious way: float vectors as numbers whose
 * JSON text is each float32's shortest round-trip text (which JSON.stringify then prints as is).
 */
function asResult({ encoding, data, ...rest }: EmbeddingReply): EmbeddingResult {
  const { request_id, model, provider_id, usage, latency_ms, warnings } = rest;
  return {
    request_id,
    model,
    provider_id,
    data: data.map(({ vector, ...item }) => ({
      index: item.index,
      embedding:
        encoding === "base64"
          ? encodeFloat32Base64(vector)
          : Array.from(vector, (value) => Number(float32ToJsonText(value))),
      dimensions: item.dimensions,
      input_ref: item.input_ref,
      model: item.model,
      cached: item.cached,
    })),
    usage,
    latency_ms,
    warnings,
  };
}

describe("encodeEmbeddingResult", () => {
  const shared = new Float32Array([1, 2, 3]);
  const vectors = [
    new Float32Array([0.1, -2, 3.5e-7, -0.012345679, 1e-45]),
    shared,
    shared,
    new Float32Array([-0.5, 0, 1]),
    new Float32Array(0),
  ];

  it.each(["float", "base64"] as const)("gives exactly the bytes of JSON.stringify (%s)", (encoding) => {
    for (const value of [reply(encoding, vectors), reply(encoding, [])]) {
      const text = Buffer.from(encodeEmbeddingResult(value)).toString("utf8");
      expect(text).toBe(JSON.stringify(asResult(value)));
    }
  });

  it("writes float vectors as the shortest text that reads back as each float32, duplicates too", () => {
    const value = reply("float", vectors);
    const text = Buffer.from(encodeEmbeddingResult(value)).toString("utf8");
    expect(text).toContain('"embedding":[0.1,-2,3.5e-7,-0.012345679,1e-45]');
    expect(text.split('"embedding":[1,2,3]')).toHaveLength(3);
    const parsed = JSON.parse(text) as EmbeddingResult;
    parsed.data.forEach((item, index) => {
      // -0 aside (JSON has none), every value comes back bit for bit.
      expect(Float32Array.from(item.embedding as number[])).toEqual(vectors[index]!.map((v) => v + 0));
    });
  });
});
