import { nuid } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { SUBJECTS } from "@llm-provider/contracts";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { buildProviderHealthChanged } from "../domain/events.js";
import { createJetStreamEventPublisher } from "../infra/jetstream/jetstream-events.js";
import type { EventPublisher } from "../infra/jetstream/jetstream-events.js";
import { createKvEmbeddingCache } from "../infra/kv/embedding-cache/kv-embedding-cache.js";
import type { KvEmbeddingCache } from "../infra/kv/embedding-cache/kv-embedding-cache.js";
import { createKvBreakerBoard } from "../infra/kv/kv-breaker-board.js";
import type { KvBreakerBoard } from "../infra/kv/kv-breaker-board.js";
import { createKvHealthCache } from "../infra/kv/kv-health-cache.js";
import { createKvRateLimiter } from "../infra/kv/kv-rate-limiter.js";
import { createKvSpendLedger } from "../infra/kv/kv-spend-ledger.js";
import { parseBreakerKey } from "../ports/breaker-board.js";
import type { HealthCache } from "../ports/health-recorder.js";
import type { RateLimiter } from "../ports/rate-limiter.js";
import type { SpendLedger } from "../ports/spend-ledger.js";

/** What every worker shares through JetStream: events, the embedding cache, breakers, limits, spend, health. */
export interface SharedState {
  /** Undefined when `events.enabled` is false. */
  events: EventPublisher | undefined;
  /** Undefined when `embedding_cache.enabled` is false. */
  embeddingCache: KvEmbeddingCache | undefined;
  breakers: KvBreakerBoard;
  limiter: RateLimiter;
  /** What each caller spent per day and month (its budgets). */
  spend: SpendLedger;
  health: HealthCache;
}

export async function startSharedState(
  nc: NatsConnection,
  config: Config,
  logger: Logger,
  configRevision: () => number | undefined,
): Promise<SharedState> {
  const events = config.events.enabled
    ? createJetStreamEventPublisher(nc, config.events, logger, configRevision)
    : undefined;
  if (!events) logger.warn("domain events are disabled (events.enabled: false)");
  const embeddingCache = config.embedding_cache.enabled
    ? createKvEmbeddingCache(nc, config.embedding_cache, logger)
    : undefined;
  if (!embeddingCache) logger.warn("embedding cache is disabled (embedding_cache.enabled: false)");
  const breakers = await createKvBreakerBoard({
    nc,
    bucket: config.circuit_breaker.bucket,
    workerId: nuid.next(),
    policy: {
      failureThreshold: config.circuit_breaker.failure_threshold,
      cooldownMs: config.circuit_breaker.cooldown_ms,
      failureRate: config.circuit_breaker.failure_rate,
      rateWindow: config.circuit_breaker.rate_window,
    },
    logger,
    // Not a request's event: no reply waits for it.
    onTransition: ({ key, ...change }) => {
      void events?.emit(SUBJECTS.providerHealthChangedEvent, () =>
        buildProviderHealthChanged({ ...parseBreakerKey(key), ...change }),
      );
    },
  });
  const limiter = await createKvRateLimiter({ nc, bucket: config.rate_limits.bucket, logger });
  const health = await createKvHealthCache({
    nc,
    bucket: config.health.bucket,
    workerId: nuid.next(),
    windowMs: config.health.window_ms,
    flushIntervalMs: config.health.flush_interval_ms,
    ttlMs: config.health.ttl_ms,
    logger,
  });
  const spend = await createKvSpendLedger(nc, config.spend.bucket);
  return { events, embeddingCache, breakers, limiter, spend, health };
}
