import type { CachedEmbedding } from "../../../ports/embedding-cache.js";

/** Bytes an entry costs besides its vector: key, object, map slot. An estimate, for the bound only. */
const ENTRY_OVERHEAD_BYTES = 200;

interface MemoryEntry {
  embedding: CachedEmbedding;
  /** Unix ms after which the bucket no longer holds it either. */
  expiresAt: number;
  bytes: number;
  /** Read since the eviction hand last passed: spared once (second chance). */
  used: boolean;
}

/**
 * The worker's own copy of recently used vectors, in front of the shared bucket: hot keys (a
 * query embedded again and again) are answered without a round trip. Least recently used entries
 * go first once `maxBytes` is reached — approximately, as in CLOCK: a read only marks the entry,
 * and an eviction hand going round the entries in insertion order clears a mark and passes on,
 * dropping the first unmarked entry. A hit costs one map lookup, an eviction a step or two of the
 * hand (it is kept between calls: restarting from the front would walk over the holes the
 * deletions leave there, microseconds per call in a full tier). A vector never changes for its
 * key, so a copy can only be outdated by the bucket dropping it: each copy expires when the
 * bucket's TTL would remove the original (its `createdAt` + TTL), and a purge of the bucket
 * reaches this tier only by that expiry, eviction or a restart.
 */
export class EmbeddingMemoryTier {
  readonly #entries = new Map<string, MemoryEntry>();
  #bytes = 0;
  /** The eviction hand: a live iterator, which a Map keeps valid across deletions and inserts. */
  #hand: MapIterator<[string, MemoryEntry]> | undefined;

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

  /** Every key's vector, or undefined unless all of them are here. */
  getAll(keys: readonly string[]): CachedEmbedding[] | undefined {
    const embeddings: CachedEmbedding[] = [];
    for (const key of keys) {
      const embedding = this.get(key);
      if (!embedding) return undefined;
      embeddings.push(embedding);
    }
    return embeddings;
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
    while (this.#bytes > this.maxBytes) {
      let step = this.#hand?.next();
      if (step === undefined || step.done) {
        this.#hand = this.#entries.entries();
        step = this.#hand.next();
        if (step.done) break;
      }
      const [oldest, entry] = step.value;
      if (entry.used) {
        entry.used = false;
        continue;
      }
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }
}
