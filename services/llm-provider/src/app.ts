import { hostname } from "node:os";
import { nuid } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { SERVICE_NAME, SUBJECTS } from "@llm-provider/contracts";
import type { Logger } from "pino";
import { createPolicyGate } from "./composition/policy-gate.js";
import { followLiveConfig, initialSnapshot, liveConfigStoreOf } from "./composition/live-config.js";
import type { ConfigSnapshot, LiveConfigFollower } from "./composition/live-config.js";
import { buildProviderClients } from "./composition/provider-clients.js";
import { startSharedState } from "./composition/shared-state.js";
import type { SharedState } from "./composition/shared-state.js";
import { stopApp } from "./composition/stop-app.js";
import { ConfigError } from "./config/load-config.js";
import { callerIdentityOf } from "./config/schema.js";
import type { Config } from "./config/schema.js";
import { buildCatalog, upstreamModelName } from "./domain/catalog.js";
import type { Catalog, ModelEntry, TargetSkip } from "./domain/catalog.js";
import { createLiveConfigAdmin } from "./config-admin.js";
import { createConfigAdminEndpoints } from "./handlers/admin/config-admin-endpoints.js";
import { createEndpoints, createJobComputers, healthThresholdsOf } from "./handlers/endpoints.js";
import { createDeploymentBalancer } from "./routing/deployment-balancer.js";
import type { EndpointDeps } from "./handlers/endpoints.js";
import { createHttpDispatcher } from "./infra/http/undici-fetch.js";
import type { EventPublisher } from "./infra/jetstream/jetstream-events.js";
import { prepareWorkerState } from "./infra/jetstream/jetstream-state.js";
import { createJetStreamResumableStreams } from "./infra/jetstream/resumable-streams.js";
import { createKvIdempotencyStore } from "./infra/kv/kv-idempotency-store.js";
import { createObjectStoreReplies } from "./infra/obj/object-store-replies.js";
import { startJobs } from "./composition/jobs.js";
import { createLogger } from "./infra/logging/logger.js";
import { createCallerIdentity } from "./infra/nats/caller-identity.js";
import { startMicroService } from "./infra/nats/micro-service.js";
import type { RunningService } from "./infra/nats/micro-service.js";
import { connectNats, watchConnection } from "./infra/nats/nats-connection.js";
import { INBOX_PREFIXES } from "./infra/nats/reply-subject.js";
import { breakerKey } from "./ports/breaker-board.js";
import type { ProviderClient } from "./ports/provider-client.js";
import { createCallerBudgets } from "./routing/caller-budgets.js";
import { buildBudgetThresholdReached } from "./domain/events.js";
import { createCallerLimits } from "./routing/caller-limits.js";
import { guardProviderClient } from "./routing/guard-provider-client.js";
import { SERVICE_VERSION } from "./version.js";

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
  /** The KV revision of the live configuration in force, or undefined while it is the file's alone. */
  configRevision(): number | undefined;
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
  const dispatcher = createHttpDispatcher();
  // The file's providers refuse a start without their keys before anything connects.
  let built = buildProviderClients(config, env, logger, dispatcher);
  const nc = options.nc ?? (await connectNats(config.nats, logger, env));
  const liveStore = config.live_config.enabled ? liveConfigStoreOf(nc, config) : undefined;
  let snapshot: ConfigSnapshot = liveStore
    ? await initialSnapshot(liveStore, config, logger)
    : { config, revision: undefined };
  if (snapshot.revision !== undefined) {
    try {
      built = buildProviderClients(snapshot.config, env, logger, dispatcher);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      logger.error(
        { config_revision: snapshot.revision, err: error.message },
        "stored configuration refused; serving the file's",
      );
      snapshot = { config, revision: undefined };
    }
  }
  const { clients, withoutClient, batchClients } = built;
  /** The snapshot requests start with; a swap replaces it whole, a request keeps the one it read. */
  let live: { config: Config; catalog: Catalog; revision: number | undefined } = {
    ...snapshot,
    catalog: buildCatalog(snapshot.config, Math.floor(Date.now() / 1000)),
  };
  logger.info({ config_revision: live.revision ?? null }, "configuration in force");
  // The connection's state for the probes (the same watcher that logs its changes).
  const connectionStatus = watchConnection(nc, logger);
  const policyGate = createPolicyGate(config, nc, logger);
  await prepareWorkerState(nc, config, logger);
  const state = await startSharedState(nc, config, logger, () => live.revision);
  guardClients(live.config, clients, state);
  const { isModelAvailable, isProviderAvailable } = availability(() => live.config, clients, state);
  const callers = createCallerIdentity(identityOf(config, logger), Object.keys(config.callers.contexts));
  const jobs = config.jobs.enabled
    ? startJobs(nc, config, callers, { catalog: () => live.catalog, clients: batchClients })
    : undefined;
  const resumableStreams = config.resumable_streams.enabled
    ? createJetStreamResumableStreams(nc, config.resumable_streams, logger)
    : undefined;
  const callerBudgets = createCallerBudgets({
    ledger: state.spend,
    budgetsOf: (caller) => config.callers.contexts[caller]?.budgets,
    countEverything: config.spend.enabled,
    logger,
    // Not a request's event: no reply waits for it.
    onThresholdReached: (reached) => {
      void state.events?.emit(SUBJECTS.budgetThresholdReachedEvent, () =>
        buildBudgetThresholdReached(reached, Date.now()),
      );
    },
  });
  const endpointDeps: EndpointDeps = {
    config,
    catalog: () => live.catalog,
    configRevision: () => live.revision,
    clients,
    providersWithoutClient: withoutClient,
    policyGate,
    callerLimits: createCallerLimits(state.limiter, (caller) => config.callers.contexts[caller]),
    spend: config.spend.enabled
      ? {
          ledger: state.spend,
          budgetsOf: (caller) => config.callers.contexts[caller]?.budgets,
          writePending: () => callerBudgets.writePending(),
        }
      : undefined,
    callerBudgets,
    events: state.events ?? { emit: () => undefined },
    health: state.health,
    balancer: createDeploymentBalancer({
      isModelAvailable,
      health: state.health,
      thresholds: healthThresholdsOf(config),
      latencyTolerance: config.load_balancing.latency_tolerance,
      affinityPrefixChars: config.load_balancing.affinity_prefix_chars,
      refreshMs: config.health.flush_interval_ms,
    }),
    embeddingCache: state.embeddingCache,
    rateLimitStatus: (providerId) => {
      const provider = live.catalog.providers.get(providerId);
      return provider ? state.limiter.status(providerId, provider.config) : Promise.resolve("OK" as const);
    },
    isModelAvailable,
    isProviderAvailable,
    maxPayloadBytes: () => nc.info?.max_payload ?? 1_048_576,
    idempotencyStore: config.idempotency.enabled
      ? createKvIdempotencyStore(nc, {
          bucket: config.idempotency.bucket,
          timeoutMs: config.idempotency.operation_timeout_ms,
          inlineMaxBytes: config.idempotency.inline_max_bytes,
          replies: createObjectStoreReplies(nc, {
            bucket: config.idempotency.replies_bucket,
            timeoutMs: config.idempotency.operation_timeout_ms,
          }),
        })
      : undefined,
    workerId: `${hostname()}:${process.pid}:${nuid.next()}`,
    jobs: jobs?.ports,
    resumableStreams,
    newId: () => nuid.next(),
  };
  const endpoints = {
    ...createEndpoints(endpointDeps),
    // Served only where the worker follows a live configuration; the server lets only the
    // config-admin user send to them (deploy/nats/accounts.conf).
    ...(liveStore
      ? createConfigAdminEndpoints(createLiveConfigAdmin(liveStore, config.live_config.bucket))
      : {}),
  };
  const service = await startMicroService({
    nc,
    name: SERVICE_NAME,
    version: SERVICE_VERSION,
    description: "LLM provider: chat completions, embeddings, models and provider health over NATS",
    queue: config.service.queue_group,
    metadata: revisionMetadata(live.revision),
    maxInFlight: config.service.max_in_flight,
    maxRequestBytes: Math.min(config.service.max_request_bytes, nc.info?.max_payload ?? Infinity),
    logger,
    callers,
    replyPrefixes: [...INBOX_PREFIXES, ...config.callers.reply_prefixes],
    configRevision: () => live.revision,
    endpoints,
  });
  const follower: LiveConfigFollower | undefined =
    liveStore &&
    followLiveConfig({
      store: liveStore,
      base: config,
      current: () => live.revision,
      logger,
      swap(next) {
        const previous = live.config;
        const fresh = buildProviderClients(next.config, env, logger, dispatcher);
        replaceClients(previous, next.config, fresh, { clients, withoutClient }, state);
        live = { ...next, catalog: buildCatalog(next.config, Math.floor(Date.now() / 1000)) };
        service.setMetadata(revisionMetadata(next.revision));
        logger.info(
          {
            config_revision: next.revision,
            providers: [...clients.keys()],
            models: next.config.models.length,
          },
          "live configuration in force",
        );
      },
    });
  const jobWorker = jobs?.startWorker(createJobComputers(endpointDeps), endpointDeps.events, logger);
  logger.info(
    { service_id: service.id, queue: config.service.queue_group, providers: [...clients.keys()] },
    "llm-provider serving",
  );

  let stopping: Promise<void> | undefined;
  const ownedConnection = options.nc ? undefined : nc;
  return {
    nc,
    service,
    logger,
    events: state.events,
    isProviderAvailable,
    configRevision: () => live.revision,
    isModelAvailable(modelName) {
      return (live.catalog.deployments.get(modelName) ?? []).some(isModelAvailable);
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
      follower?.stop();
      stopping ??= stopApp(
        {
          service,
          state,
          ownedConnection,
          dispatcher,
          logger,
          jobWorker,
          resumableStreams,
          callerBudgets: endpointDeps.callerBudgets,
        },
        graceMs,
      );
      return stopping;
    },
  };
}

/** Outermost on every client, so that an attempt the breaker or the budget refuses makes no span and no call. */
function guardClients(config: Config, clients: Map<string, ProviderClient>, state: SharedState): void {
  for (const provider of config.providers) {
    const client = clients.get(provider.id);
    if (client)
      clients.set(
        provider.id,
        guardProviderClient(client, provider, {
          breakers: state.breakers,
          limiter: state.limiter,
          inFlight: state.health,
        }),
      );
  }
}

/**
 * Puts a new configuration's clients in place: a provider whose settings changed gets its new
 * (guarded) client, an unchanged one keeps its own, one that can no longer be called loses it. The
 * client of a provider the new configuration deactivates or drops stays, for requests in flight
 * that planned it; the new catalog plans it no more.
 */
function replaceClients(
  previous: Config,
  next: Config,
  fresh: ReturnType<typeof buildProviderClients>,
  current: { clients: Map<string, ProviderClient>; withoutClient: Map<string, TargetSkip> },
  state: SharedState,
): void {
  const before = new Map(previous.providers.map((provider) => [provider.id, JSON.stringify(provider)]));
  for (const provider of next.providers) {
    const client = fresh.clients.get(provider.id);
    if (!client) {
      if (provider.is_active) current.clients.delete(provider.id);
      continue;
    }
    if (current.clients.has(provider.id) && before.get(provider.id) === JSON.stringify(provider)) continue;
    current.clients.set(
      provider.id,
      guardProviderClient(client, provider, {
        breakers: state.breakers,
        limiter: state.limiter,
        inFlight: state.health,
      }),
    );
  }
  current.withoutClient.clear();
  for (const [id, skip] of fresh.withoutClient) current.withoutClient.set(id, skip);
}

/** Callable now: a model when its provider's client exists and its own breaker is not open; a provider for at least one model. */
function availability(
  config: () => Config,
  clients: ReadonlyMap<string, ProviderClient>,
  state: SharedState,
) {
  const isModelAvailable = (model: ModelEntry) =>
    model.is_available !== false &&
    clients.has(model.provider_id) &&
    !state.breakers.isOpen(breakerKey(model.provider_id, upstreamModelName(model)));
  const isProviderAvailable = (providerId: string) =>
    config().models.some((model) => model.provider_id === providerId && isModelAvailable(model));
  return { isModelAvailable, isProviderAvailable };
}

/** `$SRV.INFO` metadata: the live configuration's KV revision in force, or `file` while there is none. */
function revisionMetadata(revision: number | undefined): Record<string, string> {
  return { config_revision: revision === undefined ? "file" : String(revision) };
}

function identityOf(config: Config, logger: Logger) {
  const identity = callerIdentityOf(config);
  if (identity === "none" && config.environment === "production")
    logger.warn(
      "callers.identity is none: every request is from 'anonymous', and any user that may publish the request subjects can act as any caller (docs/security.md)",
    );
  logger.info({ environment: config.environment, caller_identity: identity }, "caller identity");
  return identity;
}
