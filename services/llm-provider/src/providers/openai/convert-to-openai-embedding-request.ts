import type OpenAI from "openai";
import type { EmbeddingCall } from "../../ports/provider-client.js";

type OpenAIEmbeddingRequest = OpenAI.Embeddings.EmbeddingCreateParams;

/**
 * Neutral embedding call → OpenAI Embeddings body. Vectors are always asked for as base64
 * (little-endian float32): a quarter of the bytes of JSON floats, and decoded without parsing
 * thousands of numbers.
 */
export function convertToOpenAIEmbeddingRequest(
  call: Omit<EmbeddingCall, "signal" | "trace">,
): OpenAIEmbeddingRequest {
  const body: OpenAIEmbeddingRequest = {
    model: call.upstreamModel,
    input: [...call.inputs],
    encoding_format: "base64",
  };
  if (call.dimensions !== undefined) body.dimensions = call.dimensions;
  if (call.user !== undefined) body.user = call.user;
  return body;
}
