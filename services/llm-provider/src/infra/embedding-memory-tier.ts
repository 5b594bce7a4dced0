import type { CachedEmbedding } from "../handlers/embedding-cache.js";

/** Bytes an entry costs besides its vector: key, object, map slot. An estimate, for the bound only. */
const ENTRY_OVERHEAD_BYTES = 200;

interface MemoryEntry {
  embedding: CachedEmbedding;
  /** Unix ms after which the bucket no longer holds it either. */
  expiresAt: number;
  bytes: number;
  /** Read since it last reached the front: spared once by eviction (second chance). */
  used: boolean;
}

/**
 * The worker's own copy of recently used vectors, in front of the shared bucket: hot keys (a
 * query embedded again and again) are answered without a round trip. Least recently used entries
 * go first once `maxBytes` is reached — approximately: a read only marks the entry, and eviction
 * moves a marked one to the back instead of dropping it (second chance, as in CLOCK), so a hit
 * costs one map lookup instead of a delete and an insert. A vector never changes for its key, so a copy can only be
 * outdated by the bucket dropping it: each copy expires when the bucket's TTL would remove the
 * original (its `createdAt` + TTL), and a purge of the bucket reaches this tier only by that
 * expiry, eviction or a restart.
 */
export class EmbeddingMemoryTier {
  readonly #entries = new Map<string, MemoryEntry>();
  #bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): CachedEmbedding | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.#entries.delete(key);
      this.#bytes -= entry.bytes;
      return undefined;
    }
    entry.used = true;
    return entry.embedding;
  }

  set(key: string, embedding: CachedEmbedding): void {
    const bytes = embedding.vector.byteLength + key.length + ENTRY_OVERHEAD_BYTES;
    const expiresAt = embedding.createdAt + this.ttlMs;
    if (bytes > this.maxBytes || expiresAt <= this.now()) return;
    const previous = this.#entries.get(key);
    if (previous) {
      this.#entries.delete(key);
      this.#bytes -= previous.bytes;
    }
    this.#entries.set(key, { embedding, expiresAt, bytes, used: false });
    this.#bytes += bytes;
    // Oldest first; a marked entry goes to the back unmarked (the iteration may meet it again).
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      if (entry.used) {
        entry.used = false;
        this.#entries.set(oldest, entry);
      } else {
        this.#bytes -= entry.bytes;
      }
    }
  }
}
