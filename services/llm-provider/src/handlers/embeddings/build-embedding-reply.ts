import type { Embedding, EmbeddingResult, GenerateEmbedding } from "@llm-provider/contracts";
import { sumCosts } from "../../domain/cost.js";
import type { DedupedInputs } from "../../domain/embedding-batch.js";
import type { EmbeddingResolution } from "./resolve-embeddings.js";

/**
 * The reply before it is encoded: every field of `EmbeddingResult`, each item's vector still a
 * `Float32Array` (shared by duplicate inputs), written out in `encoding` only by
 * `encodeEmbeddingResult`.
 */
export interface EmbeddingReply extends Omit<EmbeddingResult, "data"> {
  encoding: "float" | "base64";
  data: (Omit<Embedding, "embedding"> & { vector: Float32Array })[];
}

export interface EmbeddingReplyParts {
  request: GenerateEmbedding;
  requestId: string;
  dimensions: number;
  deduped: DedupedInputs;
  resolution: EmbeddingResolution;
  latencyMs: number;
}

/**
 * The reply: one item per input, in input order. Usage and cost count only what was sent
 * upstream; cached items cost nothing. `provider_id` is the provider that answered the misses (of
 * the first call to finish, should fallback have split them), or, when all came from the cache,
 * the one that produced the first vector.
 */
export function buildEmbeddingReply(parts: EmbeddingReplyParts): EmbeddingReply {
  const { deduped, resolution, dimensions } = parts;
  const data = deduped.positions.map((unique, index) => {
    const embedding = resolution.embeddings[unique]!;
    return {
      index,
      vector: embedding.vector,
      dimensions,
      input_ref: deduped.keys[unique]!,
      model: embedding.model,
      cached: embedding.cached,
    };
  });
  let promptTokens = 0;
  for (const batch of resolution.batches) promptTokens += batch.promptTokens;
  const first = resolution.batches[0] ?? resolution.embeddings[0]!;
  return {
    request_id: parts.requestId,
    model: parts.request.model,
    provider_id: first.providerId,
    encoding: parts.request.encoding_format,
    data,
    usage: {
      prompt_tokens: promptTokens,
      total_tokens: promptTokens,
      cost: sumCosts(resolution.batches.map((batch) => batch.cost)),
    },
    latency_ms: parts.latencyMs,
    warnings: [...new Set(resolution.batches.flatMap((batch) => batch.warnings))],
  };
}
