import { StorageType } from "@nats-io/jetstream";
import type { StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { ensureStreamShape } from "../kv/ensure-kv-bucket.js";
import type { EnsureOutcome } from "../kv/ensure-kv-bucket.js";

/** The shape one of our Object Store buckets must have. */
export interface ObjectStoreSpec {
  bucket: string;
  replicas: number;
  /** Object TTL (the stream's max_age). */
  ttlMs: number;
  /** Size cap; unset = none. */
  maxBytes?: number;
}

/**
 * Creates an Object Store bucket, or brings an existing one to `spec` (TTL, size cap, replicas),
 * as `ensureKvBucket` does for KV. Idempotent and safe when several workers start at once.
 */
export async function ensureObjectStore(
  nc: NatsConnection,
  spec: ObjectStoreSpec,
  apply = true,
): Promise<EnsureOutcome> {
  const shape: Partial<StreamConfig> = {
    max_age: nanos(spec.ttlMs),
    max_bytes: spec.maxBytes ?? -1,
    num_replicas: spec.replicas,
  };
  return ensureStreamShape(nc, `OBJ_${spec.bucket}`, shape, apply, () =>
    new Objm(nc).create(spec.bucket, {
      ttl: nanos(spec.ttlMs),
      replicas: spec.replicas,
      storage: StorageType.File,
      ...(spec.maxBytes !== undefined ? { max_bytes: spec.maxBytes } : {}),
    }),
  );
}
