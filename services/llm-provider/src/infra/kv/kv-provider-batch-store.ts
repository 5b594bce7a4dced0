import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { PROVIDER_BATCH_KEY_PREFIX, providerBatchKey } from "../../domain/provider-batch-jobs.js";
import type { ProviderBatchRecord } from "../../domain/provider-batch-jobs.js";
import type { ProviderBatchStore } from "../../ports/provider-batch-store.js";
import { createKvBucketReader } from "./kv-bucket-reader.js";
import { isRevisionConflict } from "./kv-revision-conflict.js";

/**
 * Provider batch records in the jobs bucket (`pbatch.<hash>`): they live as long as the job
 * records they serve, under the same permissions (direct gets, stream info, `$KV` writes). A claim is a compare-and-set on the revision read.
 */
export function createKvProviderBatchStore(
  nc: NatsConnection,
  options: { bucket: string; timeoutMs: number },
): ProviderBatchStore {
  const kv: Promise<KV> = new Kvm(jetstream(nc, { timeout: options.timeoutMs, checkAPI: false })).open(
    options.bucket,
    { allow_direct: true },
  );
  kv.catch(() => undefined);
  const reader = createKvBucketReader(nc, options);

  return {
    async create(record) {
      await (await kv).create(providerBatchKey(record.provider_id, record.batch_id), JSON.stringify(record));
    },
    // Listed without a consumer (docs/decisions/0006-kv-keys-without-consumer.md); removed
    // records are listed too until the bucket's TTL, and `change` skips them.
    keys: () => reader.keys(`${PROVIDER_BATCH_KEY_PREFIX}>`),
    async change(key, change) {
      const bucket = await kv;
      const entry = await bucket.get(key);
      if (entry === null || entry.operation !== "PUT") return undefined;
      const after = change(entry.json<ProviderBatchRecord>());
      if (after === undefined) return undefined;
      try {
        await bucket.update(key, JSON.stringify(after), entry.revision);
        return after;
      } catch (error) {
        if (isRevisionConflict(error)) return undefined;
        throw error;
      }
    },
    async remove(key) {
      await (await kv).delete(key);
    },
  };
}
