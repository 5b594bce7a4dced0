import { nuid } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { SERVICE_NAME, SUBJECTS } from "@llm-provider/contracts";
import type { Logger } from "pino";
import { ConfigError } from "./config/load-config.js";
import { callerIdentityOf } from "./config/schema.js";
import type { Config } from "./config/schema.js";
import { buildCatalog, upstreamModelName } from "./domain/catalog.js";
import type { ModelEntry } from "./domain/catalog.js";
import { buildProviderHealthChanged } from "./domain/events.js";
import type { ConfigProblem } from "./domain/catalog.js";
import { createBypassPolicyGate } from "./handlers/bypass-policy-gate.js";
import { createCompleteChatHandler } from "./handlers/complete-chat.js";
import type { ChatDeps } from "./handlers/prepare-chat.js";
import { createStreamChatHandler } from "./handlers/stream-chat.js";
import { createDisabledEmbeddingCache } from "./handlers/disabled-embedding-cache.js";
import { createGenerateEmbeddingHandler } from "./handlers/generate-embedding.js";
import { createGetProviderHealthHandler } from "./handlers/get-provider-health.js";
import { createListModelsHandler } from "./handlers/list-models.js";
import { createKvBreakerBoard } from "./infra/kv-breaker-board.js";
import { createKvHealthCache } from "./infra/kv-health-cache.js";
import { createCallerIdentity } from "./infra/caller-identity.js";
import { createKvRateLimiter } from "./infra/kv-rate-limiter.js";
import { INBOX_PREFIXES } from "./infra/reply-subject.js";
import { createCallerLimits } from "./routing/caller-limits.js";
import { breakerKey, parseBreakerKey } from "./routing/breaker-board.js";
import { guardProviderClient } from "./routing/guard-provider-client.js";
import { createKvEmbeddingCache } from "./infra/kv-embedding-cache.js";
import type { KvEmbeddingCache } from "./infra/kv-embedding-cache.js";
import { createLogger } from "./infra/logger.js";
import { startMicroService } from "./infra/micro-service.js";
import type { RunningService } from "./infra/micro-service.js";
import { connectNats, watchConnection } from "./infra/nats-connection.js";
import { createNatsPolicyGate } from "./infra/nats-policy-gate.js";
import { createJetStreamEventPublisher } from "./infra/jetstream-events.js";
import { prepareWorkerState } from "./infra/jetstream-state.js";
import type { EventPublisher } from "./infra/jetstream-events.js";
import { describeSecretRef, resolveSecret } from "./infra/secrets.js";
import { createProviderClient, hasWire } from "./providers/create-provider-client.js";
import { createHttpDispatcher, createUndiciFetch } from "./providers/http/undici-fetch.js";
import type { ProviderClient } from "./providers/port.js";
import { instrumentProviderClient } from "./telemetry/instrument-provider-client.js";
import { withinMs } from "./infra/within-ms.js";
import { SERVICE_VERSION } from "./version.js";

/** The least time buffered state gets to reach JetStream at shutdown, however long the drain took. */
const MIN_FLUSH_MS = 1_000;

export interface AppOptions {
  config: Config;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  /** An existing connection (tests, embedding); otherwise one is made from `config.nats` and owned. */
  nc?: NatsConnection;
}

export interface App {
  readonly nc: NatsConnection;
  readonly service: RunningService;
  readonly logger: Logger;
  /** Whether this worker would call the provider now for at least one model (active, key, wire, breaker not open). */
  isProviderAvailable(providerId: string): boolean;
  /** Whether this worker would call the model now (its provider callable, its own breaker not open). */
  isModelAvailable(modelName: string): boolean;
  /** The event publisher, or undefined when `events.enabled` is false. */
  readonly events: EventPublisher | undefined;
  /** Why this worker should not be given work now (`nats_reconnecting`, `draining`, …), or undefined. */
  readiness(): string | undefined;
  /** Why this worker should be restarted (its NATS connection is gone for good), or undefined. */
  liveness(): string | undefined;
  /** Graceful stop: no new requests, in-flight ones finish within the grace period, then drain. */
  stop(graceMs?: number): Promise<void>;
}

/** The composition root: the one place where concrete adapters are wired together. */
export async function startApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger(config.log_level);

  const apiKeys = resolveProviderKeys(config, env, logger);
  const dispatcher = createHttpDispatcher();
  const clients = new Map<string, ProviderClient>();
  for (const provider of config.providers) {
    if (!provider.is_active || !apiKeys.usable.has(provider.id)) continue;
    const fetch = createUndiciFetch(dispatcher, { idleMs: provider.config.idle_timeout_ms });
    const client = createProviderClient(provider, { apiKey: apiKeys.values.get(provider.id), fetch });
    if (client) clients.set(provider.id, instrumentProviderClient(client, provider));
    else
      logger.warn(
        { provider_id: provider.id, provider_type: provider.provider_type },
        "wire not available yet; provider unavailable",
      );
  }
  const catalog = buildCatalog(config, Math.floor(Date.now() / 1000));

  const nc = options.nc ?? (await connectNats(config.nats, logger, env));
  // The connection's state for the probes (the same watcher that logs its changes).
  const connectionStatus = watchConnection(nc, logger);
  const policyGate = config.policy_gateway.bypass
    ? createBypassPolicyGate(() => config.environment)
    : createNatsPolicyGate({
        nc,
        subject: config.policy_gateway.subject,
        timeoutMs: config.policy_gateway.timeout_ms,
        environment: config.environment,
        breaker: {
          failureThreshold: config.policy_gateway.breaker_failure_threshold,
          cooldownMs: config.policy_gateway.breaker_cooldown_ms,
        },
        logger,
      });
  if (config.policy_gateway.bypass) logger.warn("policy gateway bypassed (development only, POL-LLM-005)");

  await prepareWorkerState(nc, config, logger);
  const identity = callerIdentityOf(config);
  if (identity === "none" && config.environment === "production") {
    logger.warn(
      "callers.identity is none: every request is from 'anonymous', and any user that may publish the request subjects can act as any caller (docs/security.md)",
    );
  }

  let events: EventPublisher | undefined;
  if (config.events.enabled) {
    events = createJetStreamEventPublisher(nc, config.events, logger);
  } else {
    logger.warn("domain events are disabled (events.enabled: false)");
  }
  let embeddingCache: KvEmbeddingCache | undefined;
  if (config.embedding_cache.enabled) {
    embeddingCache = createKvEmbeddingCache(nc, config.embedding_cache, logger);
  } else {
    logger.warn("embedding cache is disabled (embedding_cache.enabled: false)");
  }

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
  // Outermost, so that an attempt the breaker or the budget refuses makes no span and no call.
  for (const provider of config.providers) {
    const client = clients.get(provider.id);
    if (client) clients.set(provider.id, guardProviderClient(client, provider, { breakers, limiter }));
  }
  /** Callable now: active, key present, wire built, its breaker not open. */
  const isModelAvailable = (model: ModelEntry) =>
    clients.has(model.provider_id) &&
    !breakers.isOpen(breakerKey(model.provider_id, upstreamModelName(model)));
  /** Callable now for at least one of its models. */
  const isProviderAvailable = (providerId: string) =>
    config.models.some((model) => model.provider_id === providerId && isModelAvailable(model));

  const health = await createKvHealthCache({
    nc,
    bucket: config.health.bucket,
    workerId: nuid.next(),
    windowMs: config.health.window_ms,
    flushIntervalMs: config.health.flush_interval_ms,
    ttlMs: config.health.ttl_ms,
    logger,
  });
  const callerLimits = createCallerLimits(limiter, (caller) => config.callers.contexts[caller]);
  const chatDeps: ChatDeps = {
    catalog: () => catalog,
    clients,
    policyGate,
    callerLimits,
    events: events ?? { emit: () => undefined },
    health,
    defaultTimeoutMs: config.service.default_timeout_ms,
    includeContentInEvents: config.events.include_content,
  };
  const service = await startMicroService({
    nc,
    name: SERVICE_NAME,
    version: SERVICE_VERSION,
    description: "LLM provider: chat completions, embeddings, models and provider health over NATS",
    queue: config.service.queue_group,
    maxInFlight: config.service.max_in_flight,
    maxRequestBytes: Math.min(config.service.max_request_bytes, nc.info?.max_payload ?? Infinity),
    logger,
    callers: createCallerIdentity(identity, Object.keys(config.callers.contexts)),
    replyPrefixes: [...INBOX_PREFIXES, ...config.callers.reply_prefixes],
    endpoints: {
      [SUBJECTS.completeChat]: createCompleteChatHandler(chatDeps),
      [SUBJECTS.streamChat]: createStreamChatHandler(chatDeps),
      [SUBJECTS.generateEmbedding]: createGenerateEmbeddingHandler({
        catalog: () => catalog,
        clients,
        policyGate,
        callerLimits,
        cache: embeddingCache ?? createDisabledEmbeddingCache(),
        cacheScope: config.embedding_cache.scope,
        events: events ?? { emit: () => undefined },
        health,
        defaultTimeoutMs: config.service.default_timeout_ms,
        maxPayloadBytes: () => nc.info?.max_payload ?? 1_048_576,
      }),
      [SUBJECTS.getProviderHealth]: createGetProviderHealthHandler({
        catalog: () => catalog,
        readHealth: (providerId) => health.read(providerId),
        lastKnownHealth: (providerId) => health.lastKnown(providerId),
        isProviderAvailable,
        rateLimitStatus: (providerId) => {
          const provider = catalog.providers.get(providerId);
          return provider ? limiter.status(providerId, provider.config) : Promise.resolve("OK" as const);
        },
        thresholds: {
          windowMs: config.health.window_ms,
          maxErrorRate: config.health.max_error_rate,
          okLatencyMs: config.health.ok_latency_ms,
          slowLatencyMs: config.health.slow_latency_ms,
        },
      }),
      [SUBJECTS.listModels]: createListModelsHandler({
        catalog: () => catalog,
        isModelAvailable,
      }),
    },
  });
  logger.info(
    {
      service_id: service.id,
      queue: config.service.queue_group,
      providers: [...clients.keys()],
      environment: config.environment,
      caller_identity: identity,
    },
    "llm-provider serving",
  );

  let stopping: Promise<void> | undefined;
  return {
    nc,
    service,
    logger,
    events,
    isProviderAvailable,
    isModelAvailable(modelName) {
      const model = catalog.models.get(modelName);
      return model !== undefined && isModelAvailable(model);
    },
    readiness() {
      if (stopping) return "draining";
      const status = connectionStatus();
      return status === "connected" ? undefined : `nats_${status}`;
    },
    liveness() {
      // An outage alone is no reason to restart: the client reconnects for ever. A closed
      // connection outside a shutdown is.
      return connectionStatus() === "closed" && !stopping ? "nats_closed" : undefined;
    },
    stop(graceMs = config.service.shutdown_grace_ms) {
      stopping ??= (async () => {
        const started = performance.now();
        logger.info({ in_flight: service.inFlight(), grace_ms: graceMs }, "stopping: draining requests");
        await service.stop(graceMs);
        // One window for everything still buffered (vectors being written, health snapshots,
        // events): what the drain left of the grace, and never less than MIN_FLUSH_MS. The
        // flushes run side by side, so a JetStream that does not answer costs one window, not
        // one per buffer, and the whole stop stays within the grace plus MIN_FLUSH_MS.
        const flushMs = Math.max(graceMs - (performance.now() - started), MIN_FLUSH_MS);
        const [, left] = await Promise.all([
          // Vectors already answered but still being written: stored now, or their claims expire.
          embeddingCache?.flush(flushMs),
          events?.flush(flushMs),
          withinMs(health.close(), flushMs).catch(() => undefined),
        ]);
        embeddingCache?.close();
        await breakers.close();
        if (events) {
          if (left !== undefined && left > 0)
            logger.error({ events_left: left, ...events.stats() }, "events not acknowledged at shutdown");
          events.close();
        }
        if (!options.nc) await nc.drain();
        // Every request has its reply by now; cut whatever upstream calls are left.
        await dispatcher.destroy();
        logger.info("stopped");
      })();
      return stopping;
    },
  };
}

/**
 * Reads every provider's API key once. A missing key refuses start-up in production; in
 * development the provider is only marked unavailable, so a partial local setup still runs.
 */
function resolveProviderKeys(config: Config, env: NodeJS.ProcessEnv, logger: Logger) {
  const values = new Map<string, string>();
  const usable = new Set<string>();
  const problems: ConfigProblem[] = [];
  config.providers.forEach((provider, index) => {
    // A provider this version cannot call needs no key (it is reported unavailable anyway).
    if (!hasWire(provider.provider_type)) return;
    if (!provider.api_key_ref) {
      usable.add(provider.id);
      return;
    }
    const key = resolveSecret(provider.api_key_ref, env);
    if (key !== undefined) {
      values.set(provider.id, key);
      usable.add(provider.id);
      return;
    }
    if (!provider.is_active) return;
    const message = `API key ${describeSecretRef(provider.api_key_ref)} of provider '${provider.id}' is not set`;
    if (config.environment === "production")
      problems.push({ field: `providers[${index}].api_key_ref`, message });
    else logger.warn({ provider_id: provider.id }, `${message}; provider unavailable`);
  });
  if (problems.length > 0) throw new ConfigError("secrets", problems);
  return { values, usable };
}
