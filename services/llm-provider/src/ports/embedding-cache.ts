/** A vector as the cache keeps it, with who produced it. */
export interface CachedEmbedding {
  vector: Float32Array;
  /** `model_name` of the model that produced it (a fallback target may differ from the requested one). */
  model: string;
  providerId: string;
  /** Unix ms when it was stored. */
  createdAt: number;
}

/** A key this request has claimed: it must `fill` or `release` it, whatever happens. */
export interface CacheClaim {
  readonly key: string;
  /** Revision of the claim marker; writes over it are compare-and-set against this. */
  readonly revision: number;
}

/** What the cache says about one key once it has settled. */
export type SettledSlot =
  /** The vector is cached. */
  | { kind: "hit"; embedding: CachedEmbedding }
  /** This request holds the claim: compute the vector, then fill or release. */
  | { kind: "claimed"; claim: CacheClaim }
  /** Compute the vector without storing it: cache off or unreachable, or waited too long. */
  | { kind: "uncached" };

export type CacheSlot =
  | SettledSlot
  /** Another request holds the claim; settles when its vector arrives, its claim ends, or the wait bound passes. */
  | { kind: "pending"; settled: Promise<SettledSlot> };

export interface AcquireOptions {
  /** The request's deadline (`performance.now()` clock): nobody waits past it. */
  deadline: number;
  /** Aborted when the request gives up: pending slots settle at once. */
  signal: AbortSignal;
}

/**
 * Port to the embedding cache: idempotency keys → vectors, shared by all workers, with claims so
 * that concurrent requests for one key reach the provider once. No method throws: a cache that
 * fails degrades to `uncached` (the request costs money, but is answered).
 */
export interface EmbeddingCache {
  /**
   * Looks every key up, claims the absent ones, and waits (bounded) for those another request
   * holds. The keys must be distinct: a request would otherwise wait on its own claim.
   */
  acquire(keys: readonly string[], options: AcquireOptions): Promise<CacheSlot[]>;
  /**
   * Stores vectors under claims this request holds; a claim taken over meanwhile is skipped.
   * Resolves once stored. A caller need not wait for it: the reply may go out while the write is
   * under way (requests for those keys meanwhile wait on the claim), and shutdown flushes it.
   */
  fill(entries: readonly { claim: CacheClaim; embedding: CachedEmbedding }[]): Promise<void>;
  /** Gives claims up without a value (the provider failed), so others may claim at once. */
  release(claims: readonly CacheClaim[]): Promise<void>;
  /**
   * Every key's vector when this worker has all of them at hand (in its memory), answered at
   * once; otherwise undefined, and `acquire` decides. A hot key then costs no claim machinery.
   */
  peekAll?(keys: readonly string[]): CachedEmbedding[] | undefined;
}
