import {
  DiscardPolicy,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  StorageType,
} from "@nats-io/jetstream";
import type { StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import type { EmbeddingCacheConfig } from "../config/schema.js";

/**
 * Creates the embedding cache bucket, or brings an existing one to the configured shape (TTL,
 * size cap, replicas). Idempotent: every worker runs it at start. Besides the configured
 * limits the bucket always keeps one record per key (vectors do not change), answers direct gets
 * (what lookups use), and, when capped, drops its oldest entries first, as a cache should.
 */
export async function ensureEmbeddingCacheBucket(
  nc: NatsConnection,
  config: EmbeddingCacheConfig,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const stream = `KV_${config.bucket}`;
  const shape: Partial<StreamConfig> = {
    max_age: nanos(config.ttl_ms),
    max_bytes: config.max_bytes ?? -1,
    num_replicas: config.replicas,
    max_msgs_per_subject: 1,
    allow_direct: true,
    discard: DiscardPolicy.Old,
  };
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(stream)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamNotFound) throw error;
    await new Kvm(nc)
      .create(config.bucket, {
        history: 1,
        ttl: config.ttl_ms,
        replicas: config.replicas,
        storage: StorageType.File,
        allow_direct: true,
        ...(config.max_bytes !== undefined ? { max_bytes: config.max_bytes } : {}),
      })
      // Another worker starting at the same moment may have created (and reshaped) it first.
      .catch(async (creationError: unknown) => {
        if (!(await jsm.streams.info(stream).catch(() => undefined))) throw creationError;
      });
    current = (await jsm.streams.info(stream)).config;
  }
  const differs = (Object.keys(shape) as (keyof StreamConfig)[]).some(
    (name) => current[name] !== shape[name],
  );
  if (differs) await jsm.streams.update(stream, { ...current, ...shape });
}
