// What the embeddings benchmark runs: the bench's service config plus an embedding model with
// the cache on, and the request bodies of its phases.
import type { GenerateEmbeddingInput } from "@llm-provider/contracts";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { benchServiceConfig } from "./service-config.js";

export const EMBED_MODEL = "bench-embed";
export const UPSTREAM_EMBED_MODEL = "text-embedding-3-large";
/** text-embedding-3-large's native length; every request here asks for a shorter vector. */
export const NATIVE_DIMENSIONS = 3072;
/** A single cached item is served at the length most embedding stores use. */
export const HIT_DIMENSIONS = 1536;
/** A 256-item batch of 1536 floats would not fit in one 1 MiB NATS message; 256 dimensions do. */
export const BATCH_DIMENSIONS = 256;
export const BATCH_SIZE = 256;

export function benchEmbeddingConfig(natsUrl: string, upstreamBaseUrl: string): ConfigInput {
  const config = benchServiceConfig(natsUrl, upstreamBaseUrl);
  config.models.push({
    model_name: EMBED_MODEL,
    provider_id: config.providers[0]!.id,
    upstream_model: UPSTREAM_EMBED_MODEL,
    context_window: 8_191,
    max_tokens: 8_191,
    dimensions: NATIVE_DIMENSIONS,
    configurable_dimensions: true,
    cost: { input_per_million: 0.13, output_per_million: 0 },
    features: { chat: false, embedding: true, function_calling: false, streaming: false },
  });
  config.embedding_cache = { enabled: true };
  return config;
}

/** A realistic chunk of a document, different for every `id`. */
export function chunkText(id: string): string {
  return (
    `Chunk ${id}: The bookshop's returns policy allows any unread book to be returned within thirty ` +
    `days of purchase with the original receipt; store credit is offered otherwise.`
  );
}

export function hitRequest(encoding: "float" | "base64"): GenerateEmbeddingInput {
  return {
    model: EMBED_MODEL,
    input: chunkText("hit"),
    dimensions: HIT_DIMENSIONS,
    encoding_format: encoding,
  };
}

/** The half of every batch that is cached before the measurement starts. */
export const CACHED_HALF = Array.from({ length: BATCH_SIZE / 2 }, (_, index) => chunkText(`cached-${index}`));

export function batchRequest(input: string[]): GenerateEmbeddingInput {
  return { model: EMBED_MODEL, input, dimensions: BATCH_DIMENSIONS, encoding_format: "base64" };
}

/** What the service sends upstream for the uncached half: the same body the HTTP floor sends. */
export function upstreamBatchBody(input: string[]): string {
  return JSON.stringify({
    model: UPSTREAM_EMBED_MODEL,
    input,
    encoding_format: "base64",
    dimensions: BATCH_DIMENSIONS,
  });
}
