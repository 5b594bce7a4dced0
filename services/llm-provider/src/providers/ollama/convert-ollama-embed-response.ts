import { z } from "zod";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import type { EmbeddingOutcome } from "../port.js";

const ollamaEmbedResponseSchema = z.object({
  model: z.string().nullish(),
  embeddings: z.array(z.array(z.number())),
  prompt_eval_count: z.number().int().nonnegative().nullish(),
});

/** Ollama `/api/embed` answer → one vector per input, in input order (Ollama keeps the order). */
export function convertOllamaEmbedResponse(body: unknown, inputCount: number): EmbeddingOutcome {
  const parsed = ollamaEmbedResponseSchema.safeParse(body);
  if (!parsed.success) {
    throw new UpstreamError(
      FailureClass.malformedResponse,
      "provider returned an embed response of unexpected shape",
      {
        cause: parsed.error,
      },
    );
  }
  const { model, embeddings, prompt_eval_count: promptTokens } = parsed.data;
  if (embeddings.length !== inputCount) {
    throw new UpstreamError(
      FailureClass.malformedResponse,
      `provider returned ${embeddings.length} embeddings for ${inputCount} inputs`,
    );
  }
  return {
    vectors: embeddings.map((vector) => Float32Array.from(vector)),
    responseModel: model ?? null,
    usage: promptTokens != null ? { promptTokens } : undefined,
    warnings: promptTokens != null ? [] : ["provider did not report token usage; cost is 0"],
  };
}
