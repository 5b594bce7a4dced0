import { jetstream, JetStreamApiError } from "@nats-io/jetstream";
import { isRevisionConflict } from "../kv-revision-conflict.js";
import { Kvm } from "@nats-io/kv";
import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

/** The latest record of a key. DEL and PURGE are the markers a deleted key leaves. */
export type KvRecord = Pick<KvEntry, "revision" | "operation" | "value">;

/** Outcome of one compare-and-set write; `conflict`: the key's revision was not the expected one. */
export type KvWriteResult =
  { ok: true; revision: number } | { ok: false; conflict: boolean; message: string };

export interface KvWrite {
  key: string;
  value: Uint8Array;
  /** The key's current revision; 0 = the key has no record. */
  expectedRevision: number;
}

/**
 * The embedding cache's bucket: the operations of the claim protocol, each one `@nats-io/kv` call,
 * a batch of them concurrent. A write JetStream refuses (the key moved on: `conflict`; or another
 * refusal such as a full bucket) is a result; anything else — no answer in time, no JetStream, the
 * connection closed — rejects the whole batch.
 */
export class EmbeddingCacheBucket {
  readonly #kv: Promise<KV>;
  readonly #subjectPrefix: string;

  constructor(nc: NatsConnection, bucket: string, timeoutMs: number) {
    this.#subjectPrefix = `$KV.${bucket}.`;
    // Bound to the bucket without a round trip (`checkAPI: false`); reads are direct gets, which
    // any replica answers (the bucket is made with `allow_direct`, ensureKvBucket).
    this.#kv = new Kvm(jetstream(nc, { timeout: timeoutMs, checkAPI: false })).open(bucket, {
      allow_direct: true,
    });
    // A bucket name the client refuses fails every operation, each awaiting this promise.
    this.#kv.catch(() => undefined);
  }

  /** Subject a key's records are published on: a core subscription sees every write to it. */
  subjectOf(key: string): string {
    return this.#subjectPrefix + key;
  }

  async getLatest(keys: readonly string[]): Promise<(KvRecord | null)[]> {
    const kv = await this.#kv;
    return Promise.all(keys.map((key) => kv.get(key)));
  }

  /** `put` with the previous revision each (0: only if the key has no record). */
  async putIfRevision(writes: readonly KvWrite[]): Promise<KvWriteResult[]> {
    const kv = await this.#kv;
    // Not `kv.create` for revision 0: on a conflict it reads the key again to retry over a
    // deletion marker, a round trip the claim protocol makes itself only where it needs one.
    return Promise.all(
      writes.map(({ key, value, expectedRevision }) =>
        kv
          .put(key, value, { previousSeq: expectedRevision })
          .then((revision): KvWriteResult => ({ ok: true, revision }), refused),
      ),
    );
  }

  /** Deletes keys still at the revisions given; a key that moved on since is left as it is. */
  async deleteIfRevision(deletes: readonly { key: string; expectedRevision: number }[]): Promise<void> {
    const kv = await this.#kv;
    await Promise.all(
      deletes.map(({ key, expectedRevision }) =>
        kv.delete(key, { previousSeq: expectedRevision }).catch(refused),
      ),
    );
  }
}

/** A write JetStream refused, as a result; any other failure is rethrown. */
function refused(error: unknown): KvWriteResult {
  if (!(error instanceof JetStreamApiError)) throw error;
  return { ok: false, conflict: isRevisionConflict(error), message: error.message };
}
