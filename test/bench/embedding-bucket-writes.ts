// What the misses of one batch cost the bucket alone: 128 claims, then 128 vector writes over
// them (compare-and-set, as the service does), concurrent `@nats-io/kv` calls, in a bucket of its
// own with the service's settings.
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { EmbeddingCacheConfigSchema } from "../../services/llm-provider/src/config/schema.js";
import {
  encodeClaim,
  encodeVectorEntry,
} from "../../services/llm-provider/src/infra/kv/embedding-cache/embedding-cache-value.js";
import { ensureKvBucket } from "../../services/llm-provider/src/infra/kv/ensure-kv-bucket.js";
import { embeddingCacheBucketSpec } from "../../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import type { SendRequest } from "./closed-loop.js";
import { BATCH_DIMENSIONS, BATCH_SIZE } from "./embedding-bench-config.js";

export async function bucketWritesSender(nc: NatsConnection): Promise<SendRequest> {
  const config = EmbeddingCacheConfigSchema.parse({ bucket: "bench_bucket_writes" });
  await ensureKvBucket(nc, embeddingCacheBucketSpec(config));
  const kv = await new Kvm(jetstream(nc, { timeout: 10_000 })).open(config.bucket, { allow_direct: true });
  const entry = encodeVectorEntry({
    vector: new Float32Array(BATCH_DIMENSIONS).fill(0.01),
    model: "bench-embed",
    providerId: "bench-upstream",
    createdAt: Date.now(),
  });
  let next = 0;
  return async () => {
    const keys = Array.from({ length: BATCH_SIZE / 2 }, () => `v1.bench-${next++}`);
    const claim = encodeClaim(Date.now(), "bench");
    const claims = await Promise.all(keys.map((key) => kv.put(key, claim, { previousSeq: 0 })));
    await Promise.all(keys.map((key, index) => kv.put(key, entry, { previousSeq: claims[index]! })));
  };
}
