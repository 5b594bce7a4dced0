// What the misses of one batch cost the bucket alone: 128 claims, then 128 vector writes over
// them (compare-and-set, as the service does), through the service's own KV batch client, in a
// bucket of its own with the service's settings.
import type { NatsConnection } from "@nats-io/nats-core";
import { EmbeddingCacheConfigSchema } from "../../services/llm-provider/src/config/schema.js";
import {
  encodeClaim,
  encodeVectorEntry,
} from "../../services/llm-provider/src/infra/embedding-cache-value.js";
import { ensureKvBucket } from "../../services/llm-provider/src/infra/ensure-kv-bucket.js";
import { embeddingCacheBucketSpec } from "../../services/llm-provider/src/infra/jetstream-state.js";
import { createKvBatchClient } from "../../services/llm-provider/src/infra/kv-batch-client.js";
import type { KvBatchClient } from "../../services/llm-provider/src/infra/kv-batch-client.js";
import type { SendRequest } from "./closed-loop.js";
import { BATCH_DIMENSIONS, BATCH_SIZE } from "./embedding-bench-config.js";

export async function bucketWritesSender(
  nc: NatsConnection,
): Promise<{ send: SendRequest; client: KvBatchClient }> {
  const config = EmbeddingCacheConfigSchema.parse({ bucket: "bench_bucket_writes" });
  await ensureKvBucket(nc, embeddingCacheBucketSpec(config));
  const client = createKvBatchClient(nc, { bucket: config.bucket, timeoutMs: 10_000 });
  const entry = encodeVectorEntry({
    vector: new Float32Array(BATCH_DIMENSIONS).fill(0.01),
    model: "bench-embed",
    providerId: "bench-upstream",
    createdAt: Date.now(),
  });
  let next = 0;
  const send: SendRequest = async () => {
    const keys = Array.from({ length: BATCH_SIZE / 2 }, () => `v1.bench-${next++}`);
    const claim = encodeClaim(Date.now(), "bench");
    const claims = await client.putIfRevision(
      keys.map((key) => ({ key, value: claim, expectedRevision: 0 })),
    );
    const writes = await client.putIfRevision(
      keys.map((key, index) => {
        const claimed = claims[index]!;
        if (!claimed.ok) throw new Error(`claim refused: ${claimed.message}`);
        return { key, value: entry, expectedRevision: claimed.revision };
      }),
    );
    const refused = writes.find((write) => !write.ok);
    if (refused && !refused.ok) throw new Error(`vector write refused: ${refused.message}`);
  };
  return { send, client };
}
