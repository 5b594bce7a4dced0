import type { CacheSlot, EmbeddingCache } from "../../ports/embedding-cache.js";

/** `embedding_cache.enabled: false`: every vector is computed, nothing is stored or claimed. */
export function createDisabledEmbeddingCache(): EmbeddingCache {
  return {
    acquire: (keys) => Promise.resolve(keys.map((): CacheSlot => ({ kind: "uncached" }))),
    fill: () => Promise.resolve(),
    release: () => Promise.resolve(),
  };
}
