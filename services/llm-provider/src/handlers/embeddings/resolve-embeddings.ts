import { LlmProviderError } from "@llm-provider/contracts";
import type { Attempt, Cost } from "@llm-provider/contracts";
import { splitIntoBatches } from "../../domain/embedding-batch.js";
import type {
  CacheClaim,
  CachedEmbedding,
  EmbeddingCache,
  SettledSlot,
} from "../../ports/embedding-cache.js";

/** What one upstream call answered for a slice of the texts, priced and checked by the caller. */
export interface ComputedBatch {
  /** One vector per text, in the slice's order. */
  vectors: Float32Array[];
  /** `model_name` and provider of the target that answered. */
  model: string;
  providerId: string;
  promptTokens: number;
  /** What the call counts against rate limits: the provider's count, else the estimate. */
  countedTokens: number;
  cost: Cost;
  attempts: Attempt[];
  warnings: string[];
}

/** Embeds a slice of texts upstream (routing, fallback, dimension check); throws a typed error. */
export type ComputeBatch = (texts: string[], signal: AbortSignal) => Promise<ComputedBatch>;

export interface ResolvedEmbedding {
  vector: Float32Array;
  model: string;
  providerId: string;
  /** Served from the cache (by this worker's lookup or after waiting for another request's value). */
  cached: boolean;
}

export interface EmbeddingResolution {
  /** Parallel to the keys. */
  embeddings: ResolvedEmbedding[];
  /** The upstream calls made, in the order they finished. */
  batches: ComputedBatch[];
}

export interface ResolveEmbeddingsOptions {
  /** Distinct keys and their texts (duplicates already folded together). */
  keys: readonly string[];
  texts: readonly string[];
  cache: EmbeddingCache;
  compute: ComputeBatch;
  maxBatchSize: number;
  maxParallelCalls: number;
  deadline: number;
  signal: AbortSignal;
}

/**
 * Cache first, provider for the rest: looks every key up, sends only the misses upstream (in
 * slices of `maxBatchSize`, at most `maxParallelCalls` at once), stores each slice as soon as it
 * is back (without waiting for the write), and meanwhile waits for keys other requests are
 * computing — never before computing its own, so two requests holding each other's keys cannot
 * stall each other.
 *
 * On failure every call in flight is aborted and awaited, then every claim still held is
 * released: the cache keeps only whole entries (slices that completed) and no claim of this
 * request. The first error is thrown.
 */
export async function resolveEmbeddings(options: ResolveEmbeddingsOptions): Promise<EmbeddingResolution> {
  // All at hand: nothing to compute, wait for or release, so none of the machinery below.
  const atHand = options.cache.peekAll?.(options.keys);
  if (atHand) return { embeddings: atHand.map(fromCache), batches: [] };
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (options.signal.aborted) abort();
  else options.signal.addEventListener("abort", abort, { once: true });
  try {
    return await new EmbeddingResolver(options, controller).resolve();
  } finally {
    options.signal.removeEventListener("abort", abort);
  }
}

/** One request's resolution: what is resolved so far, the claims it holds, what is under way. */
class EmbeddingResolver {
  readonly #options: ResolveEmbeddingsOptions;
  /** Aborts every upstream call of this request (its caller gave up, or a slice failed). */
  readonly #controller: AbortController;
  readonly #embeddings: (ResolvedEmbedding | undefined)[];
  /** Claims this request holds and has not filled yet, by key index. */
  readonly #held = new Map<number, CacheClaim>();
  readonly #batches: ComputedBatch[] = [];
  readonly #rounds: Promise<void>[] = [];
  readonly #fills: Promise<void>[] = [];

  constructor(options: ResolveEmbeddingsOptions, controller: AbortController) {
    this.#options = options;
    this.#controller = controller;
    this.#embeddings = new Array<ResolvedEmbedding | undefined>(options.keys.length);
  }

  async resolve(): Promise<EmbeddingResolution> {
    try {
      const slots = await this.#options.cache.acquire(this.#options.keys, {
        deadline: this.#options.deadline,
        signal: this.#controller.signal,
      });
      const firstRound: number[] = [];
      const afterWaiting: number[] = [];
      const waits: Promise<void>[] = [];
      slots.forEach((slot, index) => {
        if (slot.kind === "pending")
          waits.push(slot.settled.then((settled) => this.#take(index, settled, afterWaiting)));
        else this.#take(index, slot, firstRound);
      });
      this.#rounds.push(this.#computeAll(firstRound));
      if (waits.length > 0) this.#rounds.push(Promise.all(waits).then(() => this.#computeAll(afterWaiting)));
      await Promise.all(this.#rounds);
    } catch (error) {
      await this.#windDown();
      throw error;
    }
    return { embeddings: this.#embeddings as ResolvedEmbedding[], batches: this.#batches };
  }

  /** A settled slot: a hit is resolved; anything else is computed (and filled when claimed). */
  #take(index: number, slot: SettledSlot, toCompute: number[]): void {
    if (slot.kind === "hit") {
      this.#embeddings[index] = fromCache(slot.embedding);
      return;
    }
    if (slot.kind === "claimed") this.#held.set(index, slot.claim);
    toCompute.push(index);
  }

  #computeAll(indexes: number[]): Promise<void> {
    return runBounded(
      splitIntoBatches(indexes, this.#options.maxBatchSize),
      this.#options.maxParallelCalls,
      this.#controller.signal,
      (slice) => this.#computeSlice(slice),
    );
  }

  async #computeSlice(indexes: number[]): Promise<void> {
    const batch = await this.#options.compute(
      indexes.map((index) => this.#options.texts[index]!),
      this.#controller.signal,
    );
    this.#batches.push(batch);
    const createdAt = Date.now();
    const entries: { claim: CacheClaim; embedding: CachedEmbedding }[] = [];
    indexes.forEach((index, position) => {
      const vector = batch.vectors[position]!;
      this.#embeddings[index] = { vector, model: batch.model, providerId: batch.providerId, cached: false };
      const claim = this.#held.get(index);
      if (claim === undefined) return;
      this.#held.delete(index);
      entries.push({
        claim,
        embedding: { vector, model: batch.model, providerId: batch.providerId, createdAt },
      });
    });
    // Stored while the rest goes on: the reply does not wait for the bucket.
    if (entries.length > 0) this.#fills.push(this.#options.cache.fill(entries));
  }

  /**
   * After a failure: nothing may claim or fill after the release below, so every round winds
   * down first. An error reply leaves the cache settled: whole entries from finished slices, no
   * claims.
   */
  async #windDown(): Promise<void> {
    this.#controller.abort();
    await Promise.allSettled(this.#rounds);
    await Promise.all(this.#fills);
    await this.#options.cache.release([...this.#held.values()]);
  }
}

function fromCache({ vector, model, providerId }: CachedEmbedding): ResolvedEmbedding {
  return { vector, model, providerId, cached: true };
}

/**
 * Runs `work` over `items`, at most `limit` at once. After the first failure no new item starts;
 * the ones running are awaited, then the first error is thrown. An abort before every item ran
 * is the worker shutting down.
 */
async function runBounded<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  async function worker(): Promise<void> {
    while (next < items.length && failure === undefined && !signal.aborted) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  if (next < items.length) {
    throw new LlmProviderError("shutting_down", "worker shut down before the request finished");
  }
}
