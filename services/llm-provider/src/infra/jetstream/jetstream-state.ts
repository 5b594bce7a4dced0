import { errors as natsErrors } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { ConfigError } from "../../config/load-config.js";
import { workerCreatesStateOf } from "../../config/schema.js";
import type { Config } from "../../config/schema.js";
import { ensureKvBucket } from "../kv/ensure-kv-bucket.js";
import { ensureObjectStore } from "../obj/ensure-object-store.js";
import type { ObjectStoreSpec } from "../obj/ensure-object-store.js";
import type { EnsureOutcome, KvBucketSpec } from "../kv/ensure-kv-bucket.js";
import { ensureEventConsumers } from "./event-consumers.js";
import { ensureEventStream } from "./jetstream-events.js";
import { ensureJobStreams } from "./job-streams.js";
import { ensureResumableStream } from "./resumable-streams.js";
import { RATE_LIMIT_ENTRY_TTL_MS } from "../kv/kv-rate-limiter.js";

/** Every KV bucket the service uses, with the shape the configuration asks for. */
export function kvBucketSpecs(config: Config): KvBucketSpec[] {
  const buckets: KvBucketSpec[] = [
    { bucket: config.circuit_breaker.bucket, replicas: config.circuit_breaker.replicas },
    {
      bucket: config.rate_limits.bucket,
      replicas: config.rate_limits.replicas,
      ttlMs: RATE_LIMIT_ENTRY_TTL_MS,
    },
    { bucket: config.health.bucket, replicas: config.health.replicas, ttlMs: config.health.ttl_ms },
    { bucket: config.spend.bucket, replicas: config.spend.replicas, ttlMs: config.spend.retention_ms },
  ];
  if (config.embedding_cache.enabled) buckets.push(embeddingCacheBucketSpec(config.embedding_cache));
  if (config.jobs.enabled)
    buckets.push({
      bucket: config.jobs.bucket,
      replicas: config.jobs.replicas,
      ttlMs: config.jobs.retention_ms,
    });
  if (config.idempotency.enabled)
    buckets.push({
      bucket: config.idempotency.bucket,
      replicas: config.idempotency.replicas,
      ttlMs: config.idempotency.window_ms,
    });
  return buckets;
}

export function embeddingCacheBucketSpec(cache: Config["embedding_cache"]): KvBucketSpec {
  return {
    bucket: cache.bucket,
    replicas: cache.replicas,
    ttlMs: cache.ttl_ms,
    ...(cache.max_bytes !== undefined ? { maxBytes: cache.max_bytes } : {}),
    discardOldest: true,
  };
}

/** The Object Store of large stored replies: kept as long as the records that name them. */
export function repliesBucketSpec(idempotency: Config["idempotency"]): ObjectStoreSpec {
  return {
    bucket: idempotency.replies_bucket,
    replicas: idempotency.replicas,
    ttlMs: idempotency.window_ms,
    ...(idempotency.replies_max_bytes !== undefined ? { maxBytes: idempotency.replies_max_bytes } : {}),
  };
}

export interface EnsuredResource {
  kind: "stream" | "consumer" | "kv" | "object_store";
  name: string;
  replicas: number;
  outcome: EnsureOutcome;
}

/**
 * Creates the event stream, the job streams, every KV bucket and the replies Object Store, or brings them to the configured shape
 * (replicas included). Idempotent. `llm-provider-bootstrap` runs it with its administration
 * rights; a worker runs it with `apply: false` (it holds no such rights, see docs/security.md) and
 * only learns what is missing or differs, except where `service.create_state` lets it create.
 */
export async function ensureJetStreamState(
  nc: NatsConnection,
  config: Config,
  apply = true,
): Promise<EnsuredResource[]> {
  const done: EnsuredResource[] = [];
  if (config.events.enabled) {
    const outcome = await ensureEventStream(nc, config.events, apply);
    done.push({ kind: "stream", name: config.events.stream, replicas: config.events.replicas, outcome });
    // Consumers belong to the bootstrap alone (a worker may not even read them).
    if (apply) {
      for (const consumer of await ensureEventConsumers(nc, config.events))
        done.push({ kind: "consumer", replicas: config.events.replicas, ...consumer });
    }
  }
  if (config.jobs.enabled) {
    for (const resource of await ensureJobStreams(nc, config.jobs, apply))
      done.push({ ...resource, replicas: config.jobs.replicas });
  }
  if (config.resumable_streams.enabled) {
    const streams = config.resumable_streams;
    const outcome = await ensureResumableStream(nc, streams, apply);
    done.push({ kind: "stream", name: streams.stream, replicas: streams.replicas, outcome });
  }
  for (const spec of kvBucketSpecs(config)) {
    const outcome = await ensureKvBucket(nc, spec, apply);
    done.push({ kind: "kv", name: spec.bucket, replicas: spec.replicas, outcome });
  }
  if (config.idempotency.enabled) {
    const spec = repliesBucketSpec(config.idempotency);
    const outcome = await ensureObjectStore(nc, spec, apply);
    done.push({ kind: "object_store", name: spec.bucket, replicas: spec.replicas, outcome });
  }
  return done;
}

/**
 * A worker's start: its state created (`service.create_state`), or only checked — a stream or
 * bucket that does not exist refuses the start (ConfigError, exit 78), one that differs from the
 * configuration is logged. JetStream not answering in time (a stream leader being elected while a
 * node is away) is waited out a few times before the start fails.
 */
export async function prepareWorkerState(nc: NatsConnection, config: Config, logger: Logger): Promise<void> {
  const creates = workerCreatesStateOf(config);
  const state = await retriedOnTimeout(() => ensureJetStreamState(nc, config, creates), logger);
  const missing = state.filter((resource) => resource.outcome === "missing");
  if (missing.length > 0) {
    throw new ConfigError(
      "jetstream",
      missing.map((resource) => ({
        field: "jetstream",
        message: `${resource.kind} ${resource.name} does not exist: run llm-provider-bootstrap with this configuration first`,
      })),
    );
  }
  const changed = state.filter((resource) => resource.outcome !== "unchanged");
  if (changed.length === 0) return;
  if (creates) logger.info({ changed }, "JetStream state created or reshaped");
  else
    logger.warn(
      { differs: changed },
      "JetStream state differs from the configuration: run llm-provider-bootstrap",
    );
}

/** Tries of the state check at start: each waits up to the JetStream API timeout. */
const STATE_CHECK_TRIES = 4;

async function retriedOnTimeout<T>(check: () => Promise<T>, logger: Logger): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await check();
    } catch (error) {
      const timedOut =
        error instanceof natsErrors.TimeoutError || (error as Error).cause instanceof natsErrors.TimeoutError;
      if (!timedOut || attempt >= STATE_CHECK_TRIES) throw error;
      logger.warn({ attempt }, "JetStream did not answer the state check in time; trying again");
    }
  }
}
