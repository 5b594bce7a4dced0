import { setTimeout as delay } from "node:timers/promises";
import type { CacheClaim, CachedEmbedding } from "../../../ports/embedding-cache.js";
import type { EmbeddingCacheBucket } from "./embedding-cache-bucket.js";
import type { ThrottledWarning } from "./embedding-cache-warning.js";
import { encodeVectorEntry } from "./embedding-cache-value.js";
import { withinMs } from "../../../shared/within-ms.js";

export type ClaimedVector = { claim: CacheClaim; embedding: CachedEmbedding };

/**
 * The embedding cache's writes: vectors over the claims that were waiting for them, and claims
 * given up. Failures are warnings, never errors: a claim left behind expires after the claim timeout.
 */
export class EmbeddingCacheWriter {
  readonly #writing = new Set<Promise<void>>();

  constructor(
    private readonly bucket: EmbeddingCacheBucket,
    private readonly warning: ThrottledWarning,
  ) {}

  /**
   * Stores vectors in the background: the reply this request is about to send, and the next
   * request's lookups and claims, go ahead of these writes (on the server too, which takes one
   * connection's messages in order). Until a write lands its key stays claimed: others wait for it.
   */
  storeLater(entries: readonly ClaimedVector[]): Promise<void> {
    const write = delay(0)
      .then(() => this.#store(entries))
      .finally(() => this.#writing.delete(write));
    this.#writing.add(write);
    return write;
  }

  /** Waits (at most `timeoutMs`) for the writes under way. */
  async flush(timeoutMs: number): Promise<void> {
    await withinMs(Promise.all(this.#writing), timeoutMs);
  }

  async release(claims: readonly CacheClaim[]): Promise<void> {
    if (claims.length === 0) return;
    try {
      await this.bucket.deleteIfRevision(
        claims.map((claim) => ({ key: claim.key, expectedRevision: claim.revision })),
      );
    } catch (error) {
      this.warning.warn("embedding cache claims not released; they expire after claim_timeout_ms", error);
    }
  }

  /** Writes vectors over the claims (compare-and-set); claims whose write failed are released. */
  async #store(entries: readonly ClaimedVector[]): Promise<void> {
    let results;
    try {
      results = await this.bucket.putIfRevision(
        entries.map(({ claim, embedding }) => ({
          key: claim.key,
          value: encodeVectorEntry(embedding),
          expectedRevision: claim.revision,
        })),
      );
    } catch (error) {
      this.warning.warn("embedding cache write failed; vectors not stored", error);
      await this.release(entries.map((entry) => entry.claim));
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
      this.warning.warn(`embedding cache refused ${unstored.length} vectors; not stored`, reason);
      await this.release(unstored);
    }
  }
}
