import { z } from "zod";
import { decodeFloat32Base64 } from "../../domain/embedding-vector.js";
import type { EmbeddingOutcome } from "../../ports/provider-client.js";
import { malformedResponse, parseUpstream } from "../parse-upstream.js";

/**
 * Lenient: only the fields we use. `embedding` may be numbers although base64 was asked for —
 * some OpenAI-compatible servers ignore `encoding_format`.
 */
const openAIEmbeddingResponseSchema = z.object({
  data: z.array(
    z.object({
      index: z.number().int().nonnegative().nullish(),
      embedding: z.union([z.string(), z.array(z.number())]),
    }),
  ),
  model: z.string().nullish(),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative() }).nullish(),
});

/**
 * OpenAI Embeddings response body → one vector per input, in input order (by `index`, which
 * OpenAI sends sorted but does not promise). A body of the wrong shape, a missing or repeated
 * index, or base64 that is not whole float32 values is `malformed_response`.
 */
export function convertOpenAIEmbeddingResponse(body: unknown, inputCount: number): EmbeddingOutcome {
  const { data, model, usage } = parseUpstream(
    openAIEmbeddingResponseSchema,
    body,
    "returned an embeddings response",
  );
  if (data.length !== inputCount) {
    throw malformedResponse(`provider returned ${data.length} embeddings for ${inputCount} inputs`);
  }
  const vectors = new Array<Float32Array | undefined>(inputCount);
  for (let position = 0; position < data.length; position++) {
    const item = data[position]!;
    const index = item.index ?? position;
    if (index >= inputCount || vectors[index] !== undefined) {
      throw malformedResponse(`provider returned embedding index ${index} out of range or twice`);
    }
    try {
      vectors[index] =
        typeof item.embedding === "string"
          ? decodeFloat32Base64(item.embedding)
          : Float32Array.from(item.embedding);
    } catch (error) {
      throw malformedResponse(
        `provider returned an embedding that is not float32 data (index ${index})`,
        error,
      );
    }
  }
  const warnings = usage ? [] : ["provider did not report token usage; cost is 0"];
  return {
    vectors: vectors as Float32Array[],
    responseModel: model ?? null,
    usage: usage ? { promptTokens: usage.prompt_tokens } : undefined,
    warnings,
  };
}
