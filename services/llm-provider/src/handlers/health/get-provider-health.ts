import { GetProviderHealthSchema, LlmProviderError, parseRequest, quoteValue } from "@llm-provider/contracts";
import type { AggregateHealth, ProviderHealth } from "@llm-provider/contracts";
import type { Catalog } from "../../domain/catalog.js";
import { markStale, oldestAge, toProviderHealth } from "../../domain/provider-health.js";
import type {
  HealthSnapshot,
  HealthThresholds,
  LastKnownHealth,
  StaleAge,
} from "../../domain/provider-health.js";
import type { Handler, RequestContext } from "../../ports/request-handler.js";
import { SharedReads } from "./shared-reads.js";
import type { ReadOutcome } from "./shared-reads.js";

type RateLimitStatus = ProviderHealth["rate_limit_status"];
type Logger = RequestContext["log"];

export interface GetProviderHealthDeps {
  catalog: () => Catalog;
  /**
   * Every worker's recent view of a provider, merged, read from the HealthCache now (eventually
   * consistent). May wait for seconds or fail while JetStream elects a leader.
   */
  readHealth: (providerId: string) => Promise<HealthSnapshot>;
  /** What this worker knows of the provider without waiting: its last successful read, its own window now. */
  lastKnownHealth: (providerId: string) => LastKnownHealth;
  /** Whether this worker can call the provider at all (active, key present, wire built). */
  isProviderAvailable: (providerId: string) => boolean;
  /** The provider's RPM/TPM budget from the shared count. May wait or fail like `readHealth`. */
  rateLimitStatus: (providerId: string) => Promise<RateLimitStatus>;
  thresholds: HealthThresholds;
  /** How long a query waits for shared state before it answers from the last known (default SHARED_STATE_WAIT_MS). */
  sharedStateWaitMs?: number;
  /** Epoch ms; `Date.now` unless a test sets the time. */
  now?: () => number;
}

/**
 * How long a health query waits for shared state (the HealthCache bucket, the rate-limit count)
 * before it answers from what this worker last knew, marked stale. A read takes a few ms when
 * JetStream is well; a bucket whose leader was on a lost node answers nothing for seconds, until
 * the election. A caller's query must be answered within 1 s (the NATS request default), on a
 * loaded machine too.
 */
export const SHARED_STATE_WAIT_MS = 300;

/**
 * A read unanswered this long is presumed lost (a stream without a leader drops requests, it does
 * not queue them): the next query sends a new one instead of joining it, so that an answer comes
 * soon after the election rather than after the lost read's timeout. The lost one runs out on its
 * own, so at most (read timeout / REREAD_AFTER_MS) reads of one provider are out at a time.
 */
export const REREAD_AFTER_MS = 1_000;

const SEVERITY = { OK: 0, THROTTLED: 1, BLOCKED: 2 } as const;

/** Where a health query's answer comes from. */
interface HealthSources {
  deps: GetProviderHealthDeps;
  /** The shared state it reads: every worker's view of a provider, and its budget. */
  health: SharedReads<HealthSnapshot>;
  budget: SharedReads<RateLimitStatus>;
  now: () => number;
}

/**
 * QRY-002: one provider's health, or the aggregate of all providers with the status of every
 * fallback chain. A provider this worker cannot call is reported unhealthy and BLOCKED.
 *
 * Shared state is waited for at most `SHARED_STATE_WAIT_MS`: when it does not answer in time (a
 * JetStream leader election after a lost node), the answer is what this worker last knew, marked
 * `stale` with `stale_age_ms`, never an error and never a caller's timeout.
 */
export function createGetProviderHealthHandler(deps: GetProviderHealthDeps): Handler {
  const now = deps.now ?? Date.now;
  const options = {
    waitMs: deps.sharedStateWaitMs ?? SHARED_STATE_WAIT_MS,
    rereadAfterMs: REREAD_AFTER_MS,
    now,
  };
  const sources: HealthSources = {
    deps,
    health: new SharedReads(deps.readHealth, options),
    budget: new SharedReads(deps.rateLimitStatus, options),
    now,
  };

  return async function getProviderHealth(body, context): Promise<ProviderHealth | AggregateHealth> {
    const request = parseRequest(GetProviderHealthSchema, body);
    const catalog = deps.catalog();
    const healthOf = (providerId: string) => providerHealthOf(providerId, sources, context.log);
    if (request.provider_id !== undefined) {
      if (!catalog.providers.has(request.provider_id)) {
        throw new LlmProviderError(
          "unknown_provider",
          `provider ${quoteValue(request.provider_id)} is not configured`,
          { field: "provider_id" },
        );
      }
      return healthOf(request.provider_id);
    }
    // Side by side: the aggregate waits for shared state once, not once per provider.
    return aggregateHealth(catalog, await Promise.all([...catalog.providers.keys()].map(healthOf)));
  };
}

/** One provider's health from shared state, or from what this worker last knew of it (stale). */
async function providerHealthOf(
  providerId: string,
  sources: HealthSources,
  log: Logger,
): Promise<ProviderHealth> {
  const { deps } = sources;
  const [shared, budget] = await Promise.all([
    sources.health.get(providerId),
    sources.budget.get(providerId),
  ]);
  const at = sources.now();
  const known = snapshotOf(providerId, shared, deps.lastKnownHealth, at);
  const { status, age: budgetAge } = budgetOf(providerId, budget, sources.budget, at);
  const age = oldestAge([known.age, budgetAge]);
  if (age !== undefined) logStale(log, providerId, age, shared, budget);
  const health = toProviderHealth(providerId, known.snapshot, deps.thresholds, at);
  if (SEVERITY[status] > SEVERITY[health.rate_limit_status]) health.rate_limit_status = status;
  const callable = deps.isProviderAvailable(providerId)
    ? health
    : { ...health, is_healthy: false, health_score: 0, rate_limit_status: "BLOCKED" as const };
  return markStale(callable, age);
}

/** The snapshot as read, else this worker's last known one (null age: never read). */
function snapshotOf(
  providerId: string,
  read: ReadOutcome<HealthSnapshot>,
  lastKnownHealth: GetProviderHealthDeps["lastKnownHealth"],
  at: number,
): { snapshot: HealthSnapshot; age: StaleAge } {
  if (read.answered) return { snapshot: read.value, age: undefined };
  const known = lastKnownHealth(providerId);
  return { snapshot: known.snapshot, age: known.readAt === null ? null : at - known.readAt };
}

/** The budget's status as read, else as last read; never read, nothing says it is spent. */
function budgetOf(
  providerId: string,
  read: ReadOutcome<RateLimitStatus>,
  reads: SharedReads<RateLimitStatus>,
  at: number,
): { status: RateLimitStatus; age: StaleAge } {
  if (read.answered) return { status: read.value, age: undefined };
  // As when the count has no entry yet.
  const known = reads.last(providerId);
  return { status: known?.value ?? "OK", age: known ? at - known.answeredAt : null };
}

function logStale(
  log: Logger,
  providerId: string,
  age: number | null,
  shared: ReadOutcome<unknown>,
  budget: ReadOutcome<unknown>,
): void {
  log.debug(
    {
      provider_id: providerId,
      stale_age_ms: age,
      ...(shared.answered ? {} : { health_read: shared.reason }),
      ...(budget.answered ? {} : { rate_limit_read: budget.reason }),
    },
    "provider health from the last known state",
  );
}

/** All providers' health, the mean score of the active ones, and every chain's status. */
function aggregateHealth(catalog: Catalog, providers: ProviderHealth[]): AggregateHealth {
  const byId = new Map(providers.map((health) => [health.provider_id, health]));
  const active = providers.filter((health) => catalog.providers.get(health.provider_id)?.is_active);
  const score =
    active.length === 0 ? 0 : active.reduce((sum, health) => sum + health.health_score, 0) / active.length;
  const aggregate: AggregateHealth = {
    is_healthy: score >= 0.5,
    health_score: Math.round(score * 1000) / 1000,
    providers,
    fallback_chains: catalog.chains.map((chain) => {
      // Every deployment of each model of the chain, in the order the models are tried.
      const targets = chain.models.flatMap((modelName) =>
        (catalog.deployments.get(modelName) ?? []).map(({ provider_id }) => ({
          provider_id,
          model: modelName,
          is_healthy: byId.get(provider_id)?.is_healthy ?? false,
        })),
      );
      const healthy = targets.filter((target) => target.is_healthy).length;
      const status = healthy === targets.length ? "healthy" : healthy === 0 ? "down" : "degraded";
      return { chain_id: chain.id, targets, status };
    }),
  };
  return markStale(
    aggregate,
    oldestAge(providers.map((health) => (health.stale ? (health.stale_age_ms ?? null) : undefined))),
  );
}
