import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { EmbeddingCacheConfig } from "../../../config/schema.js";
import type { AcquireOptions, CacheSlot, EmbeddingCache } from "../../../ports/embedding-cache.js";
import { EmbeddingCacheBucket } from "./embedding-cache-bucket.js";
import { EmbeddingCacheLookup } from "./embedding-cache-lookup.js";
import type { LookupOrder } from "./embedding-cache-lookup.js";
import { ThrottledWarning } from "./embedding-cache-warning.js";
import { EmbeddingCacheWriter } from "./embedding-cache-writer.js";
import { EmbeddingMemoryTier } from "./embedding-memory-tier.js";

export interface KvEmbeddingCache extends EmbeddingCache {
  /** Waits (at most `timeoutMs`) for vectors still being written: shutdown calls it before draining. */
  flush(timeoutMs: number): Promise<void>;
  /**
   * Leaves the bucket alone from now on: waits under way end (`uncached`), later lookups answer
   * `uncached`; writes already accepted still go out (`flush`). Call before the connection closes.
   */
  close(): void;
}

export interface KvEmbeddingCacheOptions {
  /** Written into claim markers, so an operator can tell whose claim a key holds. Default: host:pid. */
  owner?: string;
  /** Wall clock of claim timestamps and memory expiry (Unix ms). */
  now?: () => number;
  /** Order of lookup and claim for keys memory lacks (see `EmbeddingCacheLookup`); tests pin one. */
  lookup?: LookupOrder;
}

/**
 * After a failed lookup the bucket is left alone this long: while KV is away, requests go
 * straight to the provider instead of each waiting out the operation timeout.
 */
const BYPASS_AFTER_FAILURE_MS = 5_000;

/**
 * The embedding cache on a NATS KV bucket, shared by every worker, with each worker's recently
 * used vectors also in memory (`EmbeddingMemoryTier`).
 *
 * Claim protocol: a key without a vector is claimed by writing a claim marker with
 * compare-and-set — against revision 0 when the key has no record, against the record's revision
 * when it holds a deletion marker or a claim older than the claim timeout (of several workers
 * taking over at once, exactly one wins). Whoever holds the claim calls the provider and then
 * writes the vector, again compare-and-set against its claim's revision: a claim taken over
 * meanwhile makes that write fail instead of overwriting, and the newer holder writes. A failed
 * call deletes the claim (compare-and-set too). Everyone else waits for the vector
 * (`waitForClaims`). Bucket-level TTL is the only TTL on NATS 2.9, so a claim expires by its
 * timestamp, not by the server.
 *
 * KV trouble never fails a request: keys then settle `uncached` (computed, not stored).
 */
export function createKvEmbeddingCache(
  nc: NatsConnection,
  config: EmbeddingCacheConfig,
  logger: Logger,
  options: KvEmbeddingCacheOptions = {},
): KvEmbeddingCache {
  const now = options.now ?? Date.now;
  const bucket = new EmbeddingCacheBucket(nc, config.bucket, config.operation_timeout_ms);
  const warning = new ThrottledWarning(logger);
  const closing = new AbortController();
  const memory =
    config.memory_max_bytes > 0
      ? new EmbeddingMemoryTier(config.memory_max_bytes, config.ttl_ms, now)
      : undefined;
  const lookup = new EmbeddingCacheLookup({
    bucket,
    order: options.lookup ?? "adaptive",
    remember: (key, embedding) => memory?.set(key, embedding),
    waiter: {
      nc,
      bucket,
      claimTimeoutMs: config.claim_timeout_ms,
      waitTimeoutMs: config.wait_timeout_ms,
      owner: options.owner ?? `${hostname()}:${process.pid}`,
      now,
      onError: (error) =>
        warning.warn("embedding cache unavailable while waiting; computing without it", error),
      closed: closing.signal,
    },
  });
  const writer = new EmbeddingCacheWriter(bucket, warning);
  let bypassUntil = 0;

  /** The bucket's slots for keys memory lacks; `uncached` while it is left alone or failing. */
  async function fromBucket(keys: readonly string[], request: AcquireOptions): Promise<CacheSlot[]> {
    if (closing.signal.aborted || Date.now() < bypassUntil) return keys.map(() => ({ kind: "uncached" }));
    try {
      return await lookup.lookUpAndClaim(keys, request);
    } catch (error) {
      warning.warn("embedding cache unavailable; computing without it", error);
      bypassUntil = Date.now() + BYPASS_AFTER_FAILURE_MS;
      return keys.map(() => ({ kind: "uncached" }));
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
      const remoteSlots = await fromBucket(
        remote.map((index) => keys[index]!),
        request,
      );
      remote.forEach((index, position) => (slots[index] = remoteSlots[position]!));
      return slots;
    },

    fill(entries) {
      if (entries.length === 0) return Promise.resolve();
      for (const { claim, embedding } of entries) memory?.set(claim.key, embedding);
      return writer.storeLater(entries);
    },

    release: (claims) => writer.release(claims),

    peekAll: (keys) => memory?.getAll(keys),

    flush: (timeoutMs) => writer.flush(timeoutMs),

    close: () => closing.abort(),
  };
}
