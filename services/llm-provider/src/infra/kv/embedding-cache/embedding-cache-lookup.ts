import type {
  AcquireOptions,
  CacheSlot,
  CachedEmbedding,
  SettledSlot,
} from "../../../ports/embedding-cache.js";
import type { EmbeddingCacheBucket } from "./embedding-cache-bucket.js";
import { encodeClaim } from "./embedding-cache-value.js";
import { readKeyState, waitForClaims } from "./embedding-claim-waiter.js";
import type { ClaimWaiterOptions } from "./embedding-claim-waiter.js";

/** Order of lookup and claim for keys memory lacks; `adaptive` follows the bucket's hit rate. */
export type LookupOrder = "adaptive" | "read-first" | "claim-first";

export interface EmbeddingCacheLookupOptions {
  bucket: EmbeddingCacheBucket;
  order: LookupOrder;
  /** How the keys others hold are waited for (their claim timeout and owner are this lookup's too). */
  waiter: ClaimWaiterOptions;
  /** Told of every vector found, waited for included (the memory tier keeps a copy). */
  remember: (key: string, embedding: CachedEmbedding) => void;
}

/** Weight of the latest lookup in the bucket's hit rate (an exponential moving average). */
const HIT_RATE_WEIGHT = 0.2;

/**
 * Looks keys up in the shared bucket and claims the absent ones. Read first (absent keys are then
 * claimed: two round trips for a miss, one for a hit) or claim first (a claim on a key that exists
 * fails harmlessly and only those keys are read: one round trip for a miss, two for a hit),
 * whichever the bucket's recent hit rate makes cheaper.
 */
export class EmbeddingCacheLookup {
  // Starts read-first: a hit then costs one round trip, and a fresh worker's peers may well have
  // filled the bucket already.
  #hitRate = 1;

  constructor(private readonly options: EmbeddingCacheLookupOptions) {}

  /**
   * A slot per key: hits, claims this request won, and pending waits for keys another request
   * holds. Rejects when the bucket fails (claims that did land then expire by their timeout).
   */
  async lookUpAndClaim(keys: readonly string[], request: AcquireOptions): Promise<CacheSlot[]> {
    const slots = new Array<CacheSlot>(keys.length);
    const all = keys.map((_key, index) => index);
    let toWait: number[];
    if (this.#claimsFirst()) {
      const existing = await this.#claim(
        keys,
        all.map((index) => ({ index, revision: 0 })),
        slots,
      );
      toWait = existing.length > 0 ? await this.#read(keys, existing, slots) : [];
    } else {
      toWait = await this.#read(keys, all, slots);
    }
    const hits = slots.filter((slot) => slot.kind === "hit").length;
    this.#hitRate += (hits / keys.length - this.#hitRate) * HIT_RATE_WEIGHT;
    const waits = waitForClaims(
      toWait.map((index) => keys[index]!),
      request,
      this.options.waiter,
    );
    toWait.forEach((index, position) => {
      const settled = waits[position]!.then((slot) => this.#remember(keys[index]!, slot));
      slots[index] = { kind: "pending", settled };
    });
    return slots;
  }

  #claimsFirst(): boolean {
    const { order } = this.options;
    return order === "claim-first" || (order === "adaptive" && this.#hitRate < 0.5);
  }

  #remember(key: string, slot: SettledSlot): SettledSlot {
    if (slot.kind === "hit") this.options.remember(key, slot.embedding);
    return slot;
  }

  /** Reads keys: vectors become hits, free keys are claimed; returns the keys to wait for. */
  async #read(keys: readonly string[], indexes: readonly number[], slots: CacheSlot[]): Promise<number[]> {
    const { bucket, waiter } = this.options;
    const records = await bucket.getLatest(indexes.map((index) => keys[index]!));
    const at = waiter.now();
    const free: { index: number; revision: number }[] = [];
    const held: number[] = [];
    records.forEach((record, position) => {
      const index = indexes[position]!;
      const state = readKeyState(record, waiter.claimTimeoutMs, at);
      if (state.kind === "vector") slots[index] = this.#remember(keys[index]!, state.slot);
      else if (state.kind === "free") free.push({ index, revision: state.revision });
      else held.push(index);
    });
    return free.length > 0 ? [...held, ...(await this.#claim(keys, free, slots))] : held;
  }

  /**
   * Claims keys by compare-and-set against the revisions given (0: the key has no record). Fills
   * `slots` for the claims won and the failures; returns the keys someone else got to first.
   */
  async #claim(
    keys: readonly string[],
    candidates: readonly { index: number; revision: number }[],
    slots: CacheSlot[],
  ): Promise<number[]> {
    const { bucket, waiter } = this.options;
    const marker = encodeClaim(waiter.now(), waiter.owner);
    const results = await bucket.putIfRevision(
      candidates.map(({ index, revision }) => ({
        key: keys[index]!,
        value: marker,
        expectedRevision: revision,
      })),
    );
    const taken: number[] = [];
    results.forEach((result, position) => {
      const { index } = candidates[position]!;
      if (result.ok)
        slots[index] = { kind: "claimed", claim: { key: keys[index]!, revision: result.revision } };
      else if (result.conflict) taken.push(index);
      else slots[index] = { kind: "uncached" };
    });
    return taken;
  }
}
