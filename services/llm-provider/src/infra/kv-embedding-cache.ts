import { hostname } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { EmbeddingCacheConfig } from "../config/schema.js";
import type {
  CacheClaim,
  CacheSlot,
  CachedEmbedding,
  EmbeddingCache,
  SettledSlot,
} from "../handlers/embedding-cache.js";
import { readKeyState, waitForClaims } from "./embedding-claim-waiter.js";
import { encodeClaim, encodeVectorEntry } from "./embedding-cache-value.js";
import { EmbeddingMemoryTier } from "./embedding-memory-tier.js";
import { createKvBatchClient } from "./kv-batch-client.js";
import { withinMs } from "./within-ms.js";

export interface KvEmbeddingCache extends EmbeddingCache {
  /** Waits (at most `timeoutMs`) for vectors still being written: shutdown calls it before draining. */
  flush(timeoutMs: number): Promise<void>;
  /** Stops listening for KV replies; call once no request uses the cache any more. */
  close(): void;
}

export interface KvEmbeddingCacheOptions {
  /** Written into claim markers, so an operator can tell whose claim a key holds. Default: host:pid. */
  owner?: string;
  /** Wall clock of claim timestamps and memory expiry (Unix ms). */
  now?: () => number;
  /** Order of lookup and claim for keys memory lacks (see `lookUpAndClaim`); tests pin one. */
  lookup?: "adaptive" | "read-first" | "claim-first";
}

/** Degradation warnings at most this often: a KV outage must not flood the log. */
const WARN_INTERVAL_MS = 10_000;
/**
 * After a failed lookup the bucket is left alone this long: while KV is away, requests go
 * straight to the provider instead of each waiting out the operation timeout.
 */
const BYPASS_AFTER_FAILURE_MS = 5_000;
/** Weight of the latest lookup in the bucket's hit rate (an exponential moving average). */
const HIT_RATE_WEIGHT = 0.2;

/**
 * The embedding cache on a NATS KV bucket, shared by every worker, with each worker's recently
 * used vectors also in memory (`EmbeddingMemoryTier`).
 *
 * Claim protocol: a key without a vector is claimed by writing a claim marker with
 * compare-and-set — against revision 0 when the key has no record (`kv.create`), against the
 * record's revision when it holds a deletion marker or a claim older than the claim timeout
 * (`kv.update`: of several workers taking over at once, exactly one wins). Whoever holds the claim
 * calls the provider and then writes the vector, again compare-and-set against its claim's
 * revision: a claim taken over meanwhile makes that write fail instead of overwriting, and the
 * newer holder writes. A failed call deletes the claim (compare-and-set too). Everyone else
 * waits for the vector (`waitForClaims`). Bucket-level TTL is the only TTL on NATS 2.9, so a
 * claim expires by its timestamp, not by the server.
 *
 * KV trouble never fails a request: keys then settle `uncached` (computed, not stored).
 */
export function createKvEmbeddingCache(
  nc: NatsConnection,
  config: EmbeddingCacheConfig,
  logger: Logger,
  options: KvEmbeddingCacheOptions = {},
): KvEmbeddingCache {
  const kv = createKvBatchClient(nc, { bucket: config.bucket, timeoutMs: config.operation_timeout_ms });
  const now = options.now ?? Date.now;
  const owner = options.owner ?? `${hostname()}:${process.pid}`;
  const memory =
    config.memory_max_bytes > 0
      ? new EmbeddingMemoryTier(config.memory_max_bytes, config.ttl_ms, now)
      : undefined;
  const writing = new Set<Promise<void>>();
  const lookup = options.lookup ?? "adaptive";
  // Starts read-first: a hit then costs one round trip, and a fresh worker's peers may well
  // have filled the bucket already.
  let bucketHitRate = 1;
  let bypassUntil = 0;
  let lastWarning = 0;
  let suppressed = 0;

  function warn(message: string, error: unknown): void {
    if (Date.now() - lastWarning < WARN_INTERVAL_MS) {
      suppressed++;
      return;
    }
    logger.warn({ err: error instanceof Error ? error.message : String(error), suppressed }, message);
    lastWarning = Date.now();
    suppressed = 0;
  }

  const waiterOptions = {
    nc,
    kv,
    claimTimeoutMs: config.claim_timeout_ms,
    waitTimeoutMs: config.wait_timeout_ms,
    owner,
    now,
    onError: (error: unknown) =>
      warn("embedding cache unavailable while waiting; computing without it", error),
  };

  function remember(key: string, slot: SettledSlot): SettledSlot {
    if (slot.kind === "hit") memory?.set(key, slot.embedding);
    return slot;
  }

  async function release(claims: readonly CacheClaim[]): Promise<void> {
    if (claims.length === 0) return;
    try {
      await kv.deleteIfRevision(
        claims.map((claim) => ({ key: claim.key, expectedRevision: claim.revision })),
      );
    } catch (error) {
      // Left behind, a claim is taken over once it is older than the claim timeout.
      warn("embedding cache claims not released; they expire after claim_timeout_ms", error);
    }
  }

  /**
   * Claims keys by compare-and-set against the revisions given (0: the key has no record). Fills
   * `slots` for the claims won and the failures; returns the keys someone else got to first.
   */
  async function claim(
    keys: readonly string[],
    candidates: readonly { index: number; revision: number }[],
    slots: CacheSlot[],
  ): Promise<number[]> {
    const marker = encodeClaim(now(), owner);
    const results = await kv.putIfRevision(
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

  /** Reads keys: vectors become hits, free keys are claimed; returns the keys to wait for. */
  async function read(
    keys: readonly string[],
    indexes: readonly number[],
    slots: CacheSlot[],
  ): Promise<number[]> {
    const records = await kv.getLatest(indexes.map((index) => keys[index]!));
    const at = now();
    const free: { index: number; revision: number }[] = [];
    const held: number[] = [];
    records.forEach((record, position) => {
      const index = indexes[position]!;
      const state = readKeyState(record, config.claim_timeout_ms, at);
      if (state.kind === "vector") slots[index] = remember(keys[index]!, state.slot);
      else if (state.kind === "free") free.push({ index, revision: state.revision });
      else held.push(index);
    });
    return free.length > 0 ? [...held, ...(await claim(keys, free, slots))] : held;
  }

  /**
   * The keys memory did not have. Read first (absent ones are then claimed: two round trips for a
   * miss, one for a hit) or claim first (a claim on a key that exists fails harmlessly and only
   * those keys are read: one round trip for a miss, two for a hit), whichever the bucket's recent
   * hit rate makes cheaper.
   */
  async function lookUpAndClaim(
    keys: readonly string[],
    request: Parameters<EmbeddingCache["acquire"]>[1],
  ): Promise<CacheSlot[]> {
    const slots = new Array<CacheSlot>(keys.length);
    const all = keys.map((_key, index) => index);
    let toWait: number[];
    try {
      if (lookup === "claim-first" || (lookup === "adaptive" && bucketHitRate < 0.5)) {
        const existing = await claim(
          keys,
          all.map((index) => ({ index, revision: 0 })),
          slots,
        );
        toWait = existing.length > 0 ? await read(keys, existing, slots) : [];
      } else {
        toWait = await read(keys, all, slots);
      }
    } catch (error) {
      warn("embedding cache unavailable; computing without it", error);
      bypassUntil = Date.now() + BYPASS_AFTER_FAILURE_MS;
      // Claims that did land are not known here; they expire after the claim timeout.
      return keys.map((): SettledSlot => ({ kind: "uncached" }));
    }
    const hits = slots.filter((slot) => slot.kind === "hit").length;
    bucketHitRate += (hits / keys.length - bucketHitRate) * HIT_RATE_WEIGHT;
    const waits = waitForClaims(
      toWait.map((index) => keys[index]!),
      request,
      waiterOptions,
    );
    toWait.forEach((index, position) => {
      const settled = waits[position]!.then((slot) => remember(keys[index]!, slot));
      slots[index] = { kind: "pending", settled };
    });
    return slots;
  }

  /** Writes vectors over the claims (compare-and-set); claims whose write failed are released. */
  async function store(entries: readonly { claim: CacheClaim; embedding: CachedEmbedding }[]): Promise<void> {
    let results;
    try {
      results = await kv.putIfRevision(
        entries.map(({ claim, embedding }) => ({
          key: claim.key,
          value: encodeVectorEntry(embedding),
          expectedRevision: claim.revision,
        })),
      );
    } catch (error) {
      warn("embedding cache write failed; vectors not stored", error);
      await release(entries.map((entry) => entry.claim));
      return;
    }
    const unstored: CacheClaim[] = [];
    let reason = "";
    results.forEach((result, index) => {
      // A conflict means the claim was taken over: its new holder writes the vector.
      if (result.ok || result.conflict) return;
      unstored.push(entries[index]!.claim);
      reason = result.message;
    });
    if (unstored.length > 0) {
      warn(`embedding cache refused ${unstored.length} vectors; not stored`, reason);
      await release(unstored);
    }
  }

  return {
    async acquire(keys, request) {
      const slots = new Array<CacheSlot>(keys.length);
      const remote: number[] = [];
      keys.forEach((key, index) => {
        const embedding = memory?.get(key);
        if (embedding) slots[index] = { kind: "hit", embedding };
        else remote.push(index);
      });
      if (remote.length === 0) return slots;
      if (Date.now() < bypassUntil) {
        for (const index of remote) slots[index] = { kind: "uncached" };
        return slots;
      }
      const remoteSlots = await lookUpAndClaim(
        remote.map((index) => keys[index]!),
        request,
      );
      remote.forEach((index, position) => (slots[index] = remoteSlots[position]!));
      return slots;
    },

    fill(entries) {
      if (entries.length === 0) return Promise.resolve();
      for (const { claim, embedding } of entries) memory?.set(claim.key, embedding);
      // Background work: the reply this request is about to send, and the next request's lookups
      // and claims, go ahead of these writes (on the server too, which takes one connection's
      // messages in order). Until the write lands the keys stay claimed: others wait for it.
      const write = delay(0)
        .then(() => store(entries))
        .finally(() => writing.delete(write));
      writing.add(write);
      return write;
    },

    release,

    peekAll(keys) {
      if (!memory) return undefined;
      const embeddings: CachedEmbedding[] = [];
      for (const key of keys) {
        const embedding = memory.get(key);
        if (!embedding) return undefined;
        embeddings.push(embedding);
      }
      return embeddings;
    },

    async flush(timeoutMs) {
      await withinMs(Promise.all(writing), timeoutMs);
    },

    close: () => kv.close(),
  };
}
