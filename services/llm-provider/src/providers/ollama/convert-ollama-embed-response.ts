import { z } from "zod";
import type { EmbeddingOutcome } from "../../ports/provider-client.js";
import { malformedResponse, parseUpstream } from "../parse-upstream.js";

const ollamaEmbedResponseSchema = z.object({
  model: z.string().nullish(),
  embeddings: z.array(z.array(z.number())),
  prompt_eval_count: z.number().int().nonnegative().nullish(),
});

/** Ollama `/api/embed` answer → one vector per input, in input order (Ollama keeps the order). */
export function convertOllamaEmbedResponse(body: unknown, inputCount: number): EmbeddingOutcome {
  const {
    model,
    embeddings,
    prompt_eval_count: promptTokens,
  } = parseUpstream(ollamaEmbedResponseSchema, body, "returned an embed response");
  if (embeddings.length !== inputCount) {
    throw malformedResponse(`provider returned ${embeddings.length} embeddings for ${inputCount} inputs`);
  }
  return {
    vectors: embeddings.map((vector) => Float32Array.from(vector)),
    responseModel: model ?? null,
    usage: promptTokens != null ? { promptTokens } : undefined,
    warnings: promptTokens != null ? [] : ["provider did not report token usage; cost is 0"],
  };
}
