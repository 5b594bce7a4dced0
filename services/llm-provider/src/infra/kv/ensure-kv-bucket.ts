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

/** The shape one of our KV buckets must have. */
export interface KvBucketSpec {
  bucket: string;
  replicas: number;
  /** Entry TTL; unset = entries live until overwritten. */
  ttlMs?: number;
  /** Size cap; unset = none. */
  maxBytes?: number;
  /** When capped, drop the oldest entries (a cache) instead of refusing writes. */
  discardOldest?: boolean;
}

/**
 * What `ensure…` did, or with `apply: false` (a worker without JetStream administration rights)
 * what it found: `missing`, or `differs` from the configured shape.
 */
export type EnsureOutcome = "created" | "updated" | "unchanged" | "missing" | "differs";

/**
 * Creates a KV bucket, or brings an existing one to `spec` (TTL, size cap, replicas — a bucket
 * made R1 on a single server becomes R3 once the cluster config says so). Idempotent and safe
 * when several workers start at once. Every bucket keeps one record per key and answers direct
 * gets (what lookups use). `apply: false` only reads.
 */
export async function ensureKvBucket(
  nc: NatsConnection,
  spec: KvBucketSpec,
  apply = true,
): Promise<EnsureOutcome> {
  const shape: Partial<StreamConfig> = {
    max_age: nanos(spec.ttlMs ?? 0),
    max_bytes: spec.maxBytes ?? -1,
    num_replicas: spec.replicas,
    max_msgs_per_subject: 1,
    allow_direct: true,
    ...(spec.discardOldest ? { discard: DiscardPolicy.Old } : {}),
  };
  return ensureStreamShape(nc, `KV_${spec.bucket}`, shape, apply, () =>
    new Kvm(nc).create(spec.bucket, {
      history: 1,
      replicas: spec.replicas,
      storage: StorageType.File,
      allow_direct: true,
      ...(spec.ttlMs !== undefined ? { ttl: spec.ttlMs } : {}),
      ...(spec.maxBytes !== undefined ? { max_bytes: spec.maxBytes } : {}),
    }),
  );
}

/**
 * The stream behind a KV bucket or an Object Store: made by `create` when missing, then brought
 * to `shape` where it differs. With `apply: false` it only says what it found.
 */
export async function ensureStreamShape(
  nc: NatsConnection,
  stream: string,
  shape: Partial<StreamConfig>,
  apply: boolean,
  create: () => Promise<unknown>,
): Promise<EnsureOutcome> {
  const jsm = await jetstreamManager(nc);
  let current: StreamConfig;
  let outcome: EnsureOutcome = "unchanged";
  try {
    current = (await jsm.streams.info(stream)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamNotFound) throw error;
    if (!apply) return "missing";
    // Another worker starting at the same moment may have created (and reshaped) it first.
    await create().catch(async (creationError: unknown) => {
      if (!(await jsm.streams.info(stream).catch(() => undefined))) throw creationError;
    });
    current = (await jsm.streams.info(stream)).config;
    outcome = "created";
  }
  const differs = (Object.keys(shape) as (keyof StreamConfig)[]).some(
    (name) => current[name] !== shape[name],
  );
  if (!differs) return outcome;
  if (!apply) return "differs";
  await jsm.streams.update(stream, { ...current, ...shape });
  return outcome === "created" ? "created" : "updated";
}
