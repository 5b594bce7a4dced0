import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../domain/failure.js";
import { convertOllamaEmbedResponse } from "./convert-ollama-embed-response.js";
import { convertToOllamaEmbedRequest } from "./convert-to-ollama-embed-request.js";

const signal = new AbortController().signal;

describe("convertToOllamaEmbedRequest", () => {
  it("sends the whole batch, refuses silent truncation and warns about user", () => {
    expect(
      convertToOllamaEmbedRequest({
        upstreamModel: "nomic-embed-text",
        inputs: ["a", "b"],
        dimensions: 256,
        user: "u",
        signal,
      }),
    ).toEqual({
      body: { model: "nomic-embed-text", input: ["a", "b"], truncate: false, dimensions: 256 },
      warnings: ["user is not supported by Ollama and was not sent"],
    });
  });
});

describe("convertOllamaEmbedResponse", () => {
  it("returns one float32 vector per input and prompt_eval_count as usage", () => {
    const outcome = convertOllamaEmbedResponse(
      {
        model: "nomic-embed-text",
        embeddings: [
          [0.25, -0.5],
          [1, 0],
        ],
        total_duration: 14143917,
        load_duration: 1019500,
        prompt_eval_count: 8,
      },
      2,
    );
    expect(outcome.vectors).toEqual([Float32Array.from([0.25, -0.5]), Float32Array.from([1, 0])]);
    expect(outcome).toMatchObject({
      responseModel: "nomic-embed-text",
      usage: { promptTokens: 8 },
      warnings: [],
    });
  });

  it("rejects a count that does not match the inputs", () => {
    expect(() => convertOllamaEmbedResponse({ embeddings: [[1]] }, 2)).toThrow(UpstreamError);
  });
});
