import { SUBJECTS } from "@llm-provider/contracts";
import type { ChatCompletion } from "@llm-provider/contracts";
import type { Config } from "../config/schema.js";
import type { Catalog, ModelEntry, TargetSkip } from "../domain/catalog.js";
import type { EmbeddingCache } from "../ports/embedding-cache.js";
import type { EventSink } from "../ports/event-sink.js";
import type { HealthCache } from "../ports/health-recorder.js";
import type { PolicyGate } from "../ports/policy-gate.js";
import type { ProviderClient } from "../ports/provider-client.js";
import type { IdempotencyStore } from "../ports/idempotency-store.js";
import type { JobItemsQueue, JobResultsLog, JobStore } from "../ports/job-store.js";
import type { Endpoints, Handler, RequestContext } from "../ports/request-handler.js";
import type { ResumableStreams } from "../ports/resumable-streams.js";
import type { CallerBudgets } from "../routing/caller-budgets.js";
import type { CallerLimits } from "../routing/caller-limits.js";
import type { DeploymentBalancer } from "../routing/deployment-balancer.js";
import type { HealthThresholds } from "../domain/provider-health.js";
import { createCompleteChatHandler } from "./chat/complete-chat.js";
import type { ChatDeps } from "./chat/prepare-chat.js";
import { createResumeStreamHandler } from "./chat/resume-stream.js";
import { createStreamChatHandler } from "./chat/stream-chat.js";
import { createDisabledEmbeddingCache } from "./embeddings/disabled-embedding-cache.js";
import { createEmbeddingComputer, createGenerateEmbeddingHandler } from "./embeddings/generate-embedding.js";
import type { GenerateEmbeddingDeps } from "./embeddings/generate-embedding.js";
import { createGetProviderHealthHandler } from "./health/get-provider-health.js";
import { createListModelsHandler } from "./models/list-models.js";
import { idempotent } from "./idempotent-command.js";
import { admitRequest } from "./request-admission.js";
import type { UpstreamRequestDeps } from "./request-admission.js";
import { createJobHandlers } from "./jobs/job-commands.js";
import { createGetSpendHandler } from "./spend/get-spend.js";
import type { GetSpendDeps } from "./spend/get-spend.js";

/** What the handlers are given: ports and the settings they read, nothing concrete. */
export interface EndpointDeps {
  config: Config;
  catalog: () => Catalog;
  /** The KV revision of the live configuration in force; undefined while it is the file's alone. */
  configRevision: () => number | undefined;
  clients: ReadonlyMap<string, ProviderClient>;
  /** Why a configured provider has no client. */
  providersWithoutClient: ReadonlyMap<string, TargetSkip>;
  policyGate: PolicyGate;
  callerLimits: CallerLimits;
  callerBudgets: CallerBudgets;
  events: EventSink;
  health: HealthCache;
  /** Orders the deployments of a model with several, per request. */
  balancer: DeploymentBalancer;
  embeddingCache: EmbeddingCache | undefined;
  /** The shared rate-limit status of a provider's own budget. */
  rateLimitStatus: (providerId: string) => Promise<"OK" | "THROTTLED" | "BLOCKED">;
  isModelAvailable: (model: ModelEntry) => boolean;
  isProviderAvailable: (providerId: string) => boolean;
  /** The largest message the NATS server takes now (it may change on reconnect). */
  maxPayloadBytes: () => number;
  /** The store of caller request ids; undefined when `idempotency.enabled` is false. */
  idempotencyStore: IdempotencyStore | undefined;
  /** This worker, as its claims on request ids name it. */
  workerId: string;
  /** A new random, token-safe id. */
  newId: () => string;
  /** Job records, results and items; undefined when `jobs.enabled` is false. */
  jobs: { store: JobStore; results: JobResultsLog; items: JobItemsQueue } | undefined;
  /** Kept messages of resumable streams; undefined when `resumable_streams.enabled` is false. */
  resumableStreams: ResumableStreams | undefined;
  /** What get_spend reads; undefined when `spend.enabled` is false (only budgets' counts are kept). */
  spend: GetSpendDeps | undefined;
}

/** The table of served subjects: one handler per request subject. */
export function createEndpoints(deps: EndpointDeps): Endpoints {
  const { config, catalog, events, health } = deps;
  const chat = chatDepsOf(deps);
  const oncePerRequestId = (subject: string, handler: Handler): Handler =>
    deps.idempotencyStore === undefined
      ? handler
      : idempotent(subject, handler, {
          store: deps.idempotencyStore,
          leaseMs: config.idempotency.lease_ms,
          owner: deps.workerId,
          defaultTimeoutMs: config.service.default_timeout_ms,
        });
  return {
    [SUBJECTS.completeChat]: oncePerRequestId(SUBJECTS.completeChat, createCompleteChatHandler(chat)),
    [SUBJECTS.streamChat]: createStreamChatHandler(chat),
    [SUBJECTS.resumeStream]: createResumeStreamHandler(deps.resumableStreams),
    [SUBJECTS.generateEmbedding]: oncePerRequestId(
      SUBJECTS.generateEmbedding,
      createGenerateEmbeddingHandler(embeddingDepsOf(deps)),
    ),
    [SUBJECTS.getProviderHealth]: createGetProviderHealthHandler({
      catalog,
      readHealth: (providerId) => health.read(providerId),
      lastKnownHealth: (providerId) => health.lastKnown(providerId),
      isProviderAvailable: deps.isProviderAvailable,
      rateLimitStatus: deps.rateLimitStatus,
      thresholds: healthThresholdsOf(config),
    }),
    [SUBJECTS.listModels]: createListModelsHandler({
      catalog,
      configRevision: deps.configRevision,
      isModelAvailable: deps.isModelAvailable,
    }),
    ...(deps.spend ? { [SUBJECTS.getSpend]: createGetSpendHandler(deps.spend) } : {}),
    ...(deps.jobs
      ? createJobHandlers({
          catalog,
          jobs: deps.jobs.store,
          results: deps.jobs.results,
          items: deps.jobs.items,
          events,
          newId: deps.newId,
        })
      : {}),
  };
}

/**
 * What the job worker computes items with, in the process: generate_embedding with no reply to fit
 * into a message, and complete_chat (without the Request-Id store: a job's results are its record).
 */
export function createJobComputers(deps: EndpointDeps): {
  embed: ReturnType<typeof createEmbeddingComputer>;
  chat: (body: unknown, context: RequestContext) => Promise<ChatCompletion>;
  /** The caller's limits and the Policy Gateway, for work that reaches a provider another way. */
  admit: (context: RequestContext, check: Parameters<typeof admitRequest>[2]) => Promise<void>;
  /** The caller's spend, for work paid another way (provider batches). */
  recordSpend: CallerBudgets["record"];
} {
  const chat = createCompleteChatHandler(chatDepsOf(deps));
  return {
    embed: createEmbeddingComputer(embeddingDepsOf(deps)),
    chat: async (body, context) => (await chat(body, context)) as ChatCompletion,
    admit: async (context, check) => void (await admitRequest(deps, context, check)),
    recordSpend: (caller, request, spent) => deps.callerBudgets.record(caller, request, spent),
  };
}

/** How a provider's health is scored, from the configuration: the one place for health queries and load balancing. */
export function healthThresholdsOf(config: Pick<Config, "health">): HealthThresholds {
  return {
    windowMs: config.health.window_ms,
    maxErrorRate: config.health.max_error_rate,
    okLatencyMs: config.health.ok_latency_ms,
    slowLatencyMs: config.health.slow_latency_ms,
  };
}

/** What every handler that goes upstream needs, chat or embeddings. */
function upstreamDepsOf(deps: EndpointDeps): UpstreamRequestDeps {
  return {
    catalog: deps.catalog,
    clients: deps.clients,
    providersWithoutClient: deps.providersWithoutClient,
    policyGate: deps.policyGate,
    callerLimits: deps.callerLimits,
    callerBudgets: deps.callerBudgets,
    events: deps.events,
    health: deps.health,
    balancer: deps.balancer,
    defaultTimeoutMs: deps.config.service.default_timeout_ms,
  };
}

function embeddingDepsOf(deps: EndpointDeps): GenerateEmbeddingDeps {
  return {
    ...upstreamDepsOf(deps),
    cache: deps.embeddingCache ?? createDisabledEmbeddingCache(),
    cacheScope: deps.config.embedding_cache.scope,
    maxPayloadBytes: deps.maxPayloadBytes,
  };
}

function chatDepsOf(deps: EndpointDeps): ChatDeps {
  return {
    ...upstreamDepsOf(deps),
    includeContentInEvents: deps.config.events.include_content,
    resumableStreams: deps.resumableStreams,
  };
}
