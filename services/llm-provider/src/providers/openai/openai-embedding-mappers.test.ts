import { describe, expect, it } from "vitest";
import { encodeFloat32Base64 } from "../../domain/embedding-vector.js";
import { UpstreamError } from "../../domain/failure.js";
import { convertOpenAIEmbeddingResponse } from "./convert-openai-embedding-response.js";
import { convertToOpenAIEmbeddingRequest } from "./convert-to-openai-embedding-request.js";

describe("convertToOpenAIEmbeddingRequest", () => {
  it("always asks for base64 and sends dimensions and user only when set", () => {
    expect(
      convertToOpenAIEmbeddingRequest({
        upstreamModel: "text-embedding-3-small",
        inputs: ["a", "b"],
      }),
    ).toEqual({ model: "text-embedding-3-small", input: ["a", "b"], encoding_format: "base64" });
    expect(
      convertToOpenAIEmbeddingRequest({
        upstreamModel: "text-embedding-3-large",
        inputs: ["a"],
        dimensions: 256,
        user: "u-1",
      }),
    ).toEqual({
      model: "text-embedding-3-large",
      input: ["a"],
      encoding_format: "base64",
      dimensions: 256,
      user: "u-1",
    });
  });
});

// Recorded from api.openai.com (vectors shortened): base64 of little-endian float32.
const recorded = {
  object: "list",
  data: [
    { object: "embedding", index: 0, embedding: "AACAPwAAAMAAAEBA" }, // [1, -2, 3]
    { object: "embedding", index: 1, embedding: "AAAAAAAAgD4AAIC/" }, // [0, 0.25, -1]
  ],
  model: "text-embedding-3-small",
  usage: { prompt_tokens: 7, total_tokens: 7 },
};

describe("convertOpenAIEmbeddingResponse", () => {
  it("decodes base64 float32 vectors in input order with usage", () => {
    const outcome = convertOpenAIEmbeddingResponse(recorded, 2);
    expect(outcome.vectors.map((vector) => Array.from(vector))).toEqual([
      [1, -2, 3],
      [0, 0.25, -1],
    ]);
    expect(outcome.vectors[0]).toBeInstanceOf(Float32Array);
    expect(outcome).toMatchObject({
      responseModel: "text-embedding-3-small",
      usage: { promptTokens: 7 },
      warnings: [],
    });
  });

  it("orders by index and accepts JSON floats from servers that ignore encoding_format", () => {
    const outcome = convertOpenAIEmbeddingResponse(
      {
        data: [
          { index: 1, embedding: [0.5, 0.5] },
          { index: 0, embedding: encodeFloat32Base64(new Float32Array([0.1, 0.2])) },
        ],
      },
      2,
    );
    expect(Array.from(outcome.vectors[0]!)).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect(Array.from(outcome.vectors[1]!)).toEqual([0.5, 0.5]);
    expect(outcome.usage).toBeUndefined();
    expect(outcome.warnings).toEqual(["provider did not report token usage; cost is 0"]);
  });

  it.each([
    ["a body of the wrong shape", { data: "nope" }, 1],
    ["fewer vectors than inputs", recorded, 3],
    [
      "an index twice",
      {
        data: [
          { index: 0, embedding: [1] },
          { index: 0, embedding: [2] },
        ],
      },
      2,
    ],
    ["an index out of range", { data: [{ index: 5, embedding: [1] }] }, 1],
    ["base64 that is not whole floats", { data: [{ index: 0, embedding: "AAAAAAA=" }] }, 1],
  ])("%s is a malformed response", (_name, body, inputs) => {
    let thrown: unknown;
    try {
      convertOpenAIEmbeddingResponse(body, inputs);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UpstreamError);
    expect((thrown as UpstreamError).failure).toBe("malformed_response");
  });
});
