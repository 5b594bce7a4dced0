import { hash } from "node:crypto";

/** Bumped when the derivation below changes, so old and new entries never share a key. */
export const EMBEDDING_KEY_VERSION = "v1";

/** What decides the vector besides the text: the model (as configured) and the vector length. */
export interface EmbeddingKeyScope {
  /** `model_name` the caller asked for. */
  model: string;
  /** The provider's model name it maps to: re-pointing a model name starts a fresh key space. */
  upstreamModel: string;
  dimensions: number;
  /** Set when vectors are not shared across callers: one key space per calling context. */
  caller?: string | undefined;
}

/**
 * The idempotency key of one input: `v1.` + sha256(model, upstream model, dimensions, text) in
 * hex — KV-safe (`[-/=.\w]+`) whatever the model name or text holds. Lengths are hashed before
 * each name, so no two different scopes can produce the same byte stream. The text is hashed
 * exactly as sent: whitespace and case change embeddings, so they change the key.
 */
export function createEmbeddingKeyDeriver(scope: EmbeddingKeyScope): (input: string) => string {
  const model = Buffer.byteLength(scope.model, "utf8");
  const upstream = Buffer.byteLength(scope.upstreamModel, "utf8");
  // A caller's own key space starts with "c", a shared one with a digit: the two never meet.
  const own =
    scope.caller === undefined ? "" : `c${Buffer.byteLength(scope.caller, "utf8")}:${scope.caller}|`;
  const prefix = `${own}${model}:${scope.model}|${upstream}:${scope.upstreamModel}|${scope.dimensions}|`;
  // One-shot `hash` over prefix + text: the same digest as hashing them in two updates, at a
  // fraction of the cost of a Hash object per input. The prefix ends in "|", so the UTF-8 of the
  // joined string is the UTF-8 of the prefix followed by that of the text.
  return (input) => `${EMBEDDING_KEY_VERSION}.${hash("sha256", prefix + input, "hex")}`;
}
