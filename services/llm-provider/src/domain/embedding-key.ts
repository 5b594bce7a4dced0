import { createHash } from "node:crypto";
import type { Hash } from "node:crypto";

/** Bumped when the derivation below changes, so old and new entries never share a key. */
export const EMBEDDING_KEY_VERSION = "v1";

/** What decides the vector besides the text: the model (as configured) and the vector length. */
export interface EmbeddingKeyScope {
  /** `model_name` the caller asked for. */
  model: string;
  /** The provider's model name it maps to: re-pointing a model name starts a fresh key space. */
  upstreamModel: string;
  dimensions: number;
}

/**
 * The idempotency key of one input: `v1.` + sha256(model, upstream model, dimensions, text) in
 * hex — KV-safe (`[-/=.\w]+`) whatever the model name or text holds. Lengths are hashed before
 * each name, so no two different scopes can produce the same byte stream. The text is hashed
 * exactly as sent: whitespace and case change embeddings, so they change the key.
 */
export function createEmbeddingKeyDeriver(scope: EmbeddingKeyScope): (input: string) => string {
  const model = Buffer.from(scope.model, "utf8");
  const upstream = Buffer.from(scope.upstreamModel, "utf8");
  const prefix: Hash = createHash("sha256").update(
    `${model.length}:${scope.model}|${upstream.length}:${scope.upstreamModel}|${scope.dimensions}|`,
  );
  // The scope is hashed once; each input continues from a copy of that state.
  return (input) => `${EMBEDDING_KEY_VERSION}.${prefix.copy().update(input, "utf8").digest("hex")}`;
}
