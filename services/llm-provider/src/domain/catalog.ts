import type { FeatureFlags, ProviderType, SkipReason } from "@llm-provider/contracts";
import type { Pricing } from "./cost.js";
import type { BalancingStrategy } from "./load-balancing.js";
import {
  checkGatewayBypassOnlyInDev,
  checkModelHasPositiveMaxTokens,
  checkProviderHasName,
  type PolicyViolation,
} from "./policies.js";

/** LlmProvider + ProviderConfig, as the configuration describes it. */
export interface ProviderSpec {
  id: string;
  name?: string | undefined;
  provider_type: ProviderType;
  endpoint: string;
  is_active: boolean;
  headers: Record<string, string>;
  /** Azure OpenAI `api-version`. */
  api_version?: string | undefined;
  /** OpenRouter request settings: `provider` holds its provider-routing preferences. */
  openrouter?: { provider?: Record<string, unknown> | undefined } | undefined;
  /** Its batch API's price factor and poll interval (provider_batch jobs); unset: the defaults. */
  batch?: { price_factor: number; poll_interval_ms: number } | undefined;
  config: AttemptLimits & {
    max_retries: number;
    /** Same-target retries per failure class (a class not listed: never). */
    retries: Readonly<Partial<Record<string, number>>>;
    max_retry_after_ms: number;
    slow_failure_ms: number;
    retry_initial_backoff_ms: number;
    retry_max_backoff_ms: number;
    /** complete_chat reads a streaming model's answer as a stream. */
    stream_upstream: boolean;
    rpm?: number | undefined;
    tpm?: number | undefined;
  };
}

/** The time limits of one attempt: the provider's, or the model's own where it sets them. */
export interface AttemptLimits {
  /** A non-streamed attempt, whole. */
  timeout_ms: number;
  /** A streamed attempt's first piece. */
  first_byte_timeout_ms: number;
  /** Between two pieces of a stream, or two reads of a body. */
  idle_timeout_ms: number;
}

/** A configured model (ModelSpec without its run-time availability). */
export interface ModelEntry {
  model_name: string;
  provider_id: string;
  upstream_model?: string | undefined;
  /** Share of the model's traffic among its deployments (entries of the same name); unset: 1. */
  weight?: number | undefined;
  /** How the model's deployments share its traffic (read from its first entry); unset: the default. */
  balancing?: BalancingStrategy | undefined;
  /** false: taken out of service by an operator (unset: in service). */
  is_available?: boolean | undefined;
  context_window: number;
  max_tokens: number;
  cost: Pricing;
  features: ModelFeatures;
  /** Ollama run options: `num_ctx` (unset: `context_window`) and `keep_alive`. */
  ollama?: { num_ctx?: number | undefined; keep_alive?: string | number | undefined } | undefined;
  dimensions?: number | undefined;
  /** The model honours a `dimensions` request field (any length up to `dimensions`). */
  configurable_dimensions?: boolean | undefined;
  /** Most inputs the provider takes in one embeddings call; unset: `DEFAULT_EMBEDDING_BATCH_SIZE`. */
  max_batch_size?: number | undefined;
  /** This model's own limits, overriding its provider's. */
  timeouts?: Partial<AttemptLimits> | undefined;
}

/** The flags list_models reports as `feature_flags`, and the capabilities a request's content may need. */
export type ModelFeatures = FeatureFlags & {
  assistant_prefill: boolean;
  vision: boolean;
  files: boolean;
  reasoning: boolean;
  prompt_caching: boolean;
  structured_output: boolean;
};

/**
 * A model's features when its configuration names none: a text chat model without tools or
 * streaming. Content capabilities are off until configured, so nothing reaches a model that may
 * not take it.
 */
export const DEFAULT_MODEL_FEATURES: Readonly<ModelFeatures> = {
  chat: true,
  embedding: false,
  function_calling: false,
  streaming: false,
  assistant_prefill: false,
  vision: false,
  files: false,
  reasoning: false,
  prompt_caching: false,
  structured_output: true,
};

/** OpenAI's limit of inputs per embeddings call, and the default for OpenAI-like providers. */
export const DEFAULT_EMBEDDING_BATCH_SIZE = 2048;

export interface FallbackChain {
  id: string;
  models: string[];
  triggers: { error: boolean; rate_limit: boolean; timeout: boolean };
}

export interface CatalogInput {
  environment: "development" | "production";
  policy_gateway: { bypass: boolean };
  providers: ProviderSpec[];
  models: ModelEntry[];
  fallback_chains: FallbackChain[];
  /** Strategy of a model with several deployments that names none. */
  load_balancing?: { strategy: BalancingStrategy } | undefined;
}

/** One model on one provider: what an attempt is made against. */
export interface Target {
  model: ModelEntry;
  provider: ProviderSpec;
}

/** Why a target will not be called for a request, known before any call. */
export interface TargetSkip {
  reason: SkipReason;
  /** The same in words, for the caller (e.g. "API key env:OPENAI_API_KEY of provider 'openai' is not set"). */
  detail: string;
}

/** A target as planned for one request: with `skip` it is listed in the attempts but not called. */
export interface PlannedTarget extends Target {
  skip?: TargetSkip;
}

/** The ProviderConfiguration read model: one immutable snapshot that a request sees whole. */
export interface Catalog {
  readonly providers: ReadonlyMap<string, ProviderSpec>;
  /** By name: the model's first entry, which says what callers see of it (features, limits, dimensions). */
  readonly models: ReadonlyMap<string, ModelEntry>;
  /** By name: every entry of the model (its deployments, one per provider), in file order. */
  readonly deployments: ReadonlyMap<string, readonly ModelEntry[]>;
  /** By name, for models with several deployments: how they share its traffic. */
  readonly balancing: ReadonlyMap<string, BalancingStrategy>;
  /** Keyed by the chain's first model: a request for that model may fall back along the chain. */
  readonly chainsByPrimary: ReadonlyMap<string, FallbackChain>;
  readonly chains: readonly FallbackChain[];
  /** Unix seconds this snapshot was built (the `created` of OpenAI's model objects). */
  readonly createdAt: number;
}

/** A configuration problem: a broken policy (with its id) or a broken cross-reference. */
export type ConfigProblem = Omit<PolicyViolation, "policy"> & { policy?: PolicyViolation["policy"] };

/** Every cross-reference and policy problem of a configuration, each with the field that breaks it. */
export function findCatalogViolations(input: CatalogInput): ConfigProblem[] {
  const violations: ConfigProblem[] = [];
  const add = (field: string, message: string) => violations.push({ field, message });

  const bypass = checkGatewayBypassOnlyInDev(input.environment, input.policy_gateway.bypass);
  if (bypass) violations.push(bypass);

  const providerIds = new Set<string>();
  input.providers.forEach((provider, index) => {
    const nameViolation = checkProviderHasName(provider, `providers[${index}]`);
    if (nameViolation) violations.push(nameViolation);
    if (providerIds.has(provider.id)) add(`providers[${index}].id`, `duplicate provider id '${provider.id}'`);
    if (provider.config.retry_initial_backoff_ms > provider.config.retry_max_backoff_ms) {
      add(`providers[${index}].config.retry_initial_backoff_ms`, "must not exceed retry_max_backoff_ms");
    }
    providerIds.add(provider.id);
  });

  const modelNames = new Set<string>();
  /** Name → its first entry: a later entry of the name is another deployment of it. */
  const firstEntries = new Map<string, ModelEntry>();
  const deployments = new Set<string>();
  input.models.forEach((model, index) => {
    const maxTokens = checkModelHasPositiveMaxTokens(model, `models[${index}]`);
    if (maxTokens) violations.push(maxTokens);
    const deployment = `${model.model_name}\0${model.provider_id}`;
    if (deployments.has(deployment)) {
      add(
        `models[${index}].provider_id`,
        `model '${model.model_name}' is already deployed on provider '${model.provider_id}'`,
      );
    }
    deployments.add(deployment);
    const first = firstEntries.get(model.model_name);
    if (first)
      for (const problem of deploymentMismatches(first, model))
        add(`models[${index}].${problem.field}`, problem.message);
    else firstEntries.set(model.model_name, model);
    modelNames.add(model.model_name);
    if (!providerIds.has(model.provider_id)) {
      add(
        `models[${index}].provider_id`,
        `model '${model.model_name}' names unknown provider '${model.provider_id}'`,
      );
    }
    if (model.features.embedding && model.dimensions === undefined) {
      add(`models[${index}].dimensions`, `embedding model '${model.model_name}' must declare its dimensions`);
    }
    if (model.configurable_dimensions && !model.features.embedding) {
      add(
        `models[${index}].configurable_dimensions`,
        `model '${model.model_name}' is not an embedding model`,
      );
    }
  });

  const chainIds = new Set<string>();
  const primaries = new Set<string>();
  input.fallback_chains.forEach((chain, index) => {
    if (chainIds.has(chain.id))
      add(`fallback_chains[${index}].id`, `duplicate fallback chain id '${chain.id}'`);
    chainIds.add(chain.id);
    const primary = chain.models[0];
    if (primary !== undefined && primaries.has(primary)) {
      add(`fallback_chains[${index}].models[0]`, `model '${primary}' already starts another fallback chain`);
    }
    if (primary !== undefined) primaries.add(primary);
    chain.models.forEach((name, position) => {
      if (!modelNames.has(name)) {
        add(
          `fallback_chains[${index}].models[${position}]`,
          `chain '${chain.id}' names unknown model '${name}'`,
        );
      }
    });
    if (new Set(chain.models).size !== chain.models.length) {
      add(`fallback_chains[${index}].models`, `chain '${chain.id}' lists a model twice`);
    }
  });
  return violations;
}

/**
 * What a later entry of a model (another deployment) may not change from its first: a caller
 * must get the same kind of answer whichever deployment serves it (and a cached embedding must
 * fit every deployment's vectors).
 */
function deploymentMismatches(first: ModelEntry, later: ModelEntry): { field: string; message: string }[] {
  const at = `deployment of '${later.model_name}' on '${later.provider_id}'`;
  const problems: { field: string; message: string }[] = [];
  const differs = (field: string, what: string) =>
    problems.push({ field, message: `${at} has another ${what} than its first entry` });
  if (later.features.chat !== first.features.chat) differs("features.chat", "chat feature");
  if (later.features.embedding !== first.features.embedding)
    differs("features.embedding", "embedding feature");
  if (later.dimensions !== first.dimensions) differs("dimensions", "vector length");
  if (later.balancing !== undefined && later.balancing !== first.balancing)
    problems.push({
      field: "balancing",
      message: `${at} sets a balancing strategy: a model has one, set on its first entry`,
    });
  return problems;
}

/** Builds the snapshot; call `findCatalogViolations` first, this assumes a consistent input. */
export function buildCatalog(input: CatalogInput, createdAt: number): Catalog {
  const deployments = new Map<string, ModelEntry[]>();
  for (const model of input.models) {
    const entries = deployments.get(model.model_name);
    if (entries) entries.push(model);
    else deployments.set(model.model_name, [model]);
  }
  const balancing = new Map<string, BalancingStrategy>();
  for (const [name, entries] of deployments) {
    if (entries.length > 1)
      balancing.set(name, entries[0]!.balancing ?? input.load_balancing?.strategy ?? "weighted");
  }
  return {
    providers: new Map(input.providers.map((provider) => [provider.id, provider])),
    models: new Map([...deployments].map(([name, entries]) => [name, entries[0]!])),
    deployments,
    balancing,
    chainsByPrimary: new Map(input.fallback_chains.map((chain) => [chain.models[0]!, chain])),
    chains: input.fallback_chains,
    createdAt,
  };
}

/** The order in which a model's deployments are tried for one request (load balancing). */
export type DeploymentOrder = (
  modelName: string,
  deployments: readonly ModelEntry[],
) => readonly ModelEntry[];

const CONFIGURED_ORDER: DeploymentOrder = (_, deployments) => deployments;

/**
 * The ordered targets for a request: the model's deployments in the order `order` puts them,
 * then those of each model of its fallback chain. A target whose provider is inactive, or whose
 * model is out of service, is planned as skipped, so that the reply can say why it was not called.
 */
export function planTargets(
  catalog: Catalog,
  modelName: string,
  order: DeploymentOrder = CONFIGURED_ORDER,
): { targets: PlannedTarget[]; chain?: FallbackChain } {
  const chain = catalog.chainsByPrimary.get(modelName);
  const names = chain?.models ?? [modelName];
  const targets: PlannedTarget[] = [];
  for (const name of names) {
    const deployments = catalog.deployments.get(name) ?? [];
    for (const model of deployments.length > 1 ? order(name, deployments) : deployments) {
      const provider = catalog.providers.get(model.provider_id);
      if (provider) targets.push(plannedTarget(model, provider));
    }
  }
  return chain ? { targets, chain } : { targets };
}

function plannedTarget(model: ModelEntry, provider: ProviderSpec): PlannedTarget {
  return !provider.is_active
    ? {
        model,
        provider,
        skip: { reason: "provider_inactive", detail: `provider '${provider.id}' is not active` },
      }
    : model.is_available === false
      ? {
          model,
          provider,
          skip: { reason: "model_unavailable", detail: `model '${model.model_name}' is out of service` },
        }
      : { model, provider };
}

/** The target with `skip` when one is given: a target already skipped keeps its first reason. */
export function skipTargetWhen(target: PlannedTarget, skip: TargetSkip | undefined): PlannedTarget {
  return target.skip || !skip ? target : { ...target, skip };
}

/** A target's attempt limits: the model's own where set, else its provider's. */
export function limitsOf(target: Target): AttemptLimits {
  const own = target.model.timeouts;
  const { config } = target.provider;
  return {
    timeout_ms: own?.timeout_ms ?? config.timeout_ms,
    first_byte_timeout_ms: own?.first_byte_timeout_ms ?? config.first_byte_timeout_ms,
    idle_timeout_ms: own?.idle_timeout_ms ?? config.idle_timeout_ms,
  };
}

/** What a circuit breaker guards: one model on one provider (a failing model does not hide behind its provider's other models). */
export function targetKey(target: Pick<Target, "model" | "provider">): string {
  return `${target.provider.id}/${target.model.model_name}`;
}

export function upstreamModelName(model: ModelEntry): string {
  return model.upstream_model ?? model.model_name;
}
