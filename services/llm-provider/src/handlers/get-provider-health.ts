import { GetProviderHealthSchema, LlmProviderError, parseRequest, quoteValue } from "@llm-provider/contracts";
import type { AggregateHealth, ProviderHealth } from "@llm-provider/contracts";
import type { Catalog } from "../domain/catalog.js";
import { toProviderHealth } from "../domain/provider-health.js";
import type { HealthSnapshot, HealthThresholds } from "../domain/provider-health.js";
import type { Handler } from "./context.js";

export interface GetProviderHealthDeps {
  catalog: () => Catalog;
  /** Every worker's recent view of a provider, merged (the HealthCache; eventually consistent). */
  readHealth: (providerId: string) => Promise<HealthSnapshot>;
  /** Whether this worker can call the provider at all (active, key present, wire built). */
  isProviderAvailable: (providerId: string) => boolean;
  /** The provider's RPM/TPM budget as this worker sees it. */
  rateLimitStatus: (providerId: string) => Promise<ProviderHealth["rate_limit_status"]>;
  thresholds: HealthThresholds;
}

const SEVERITY = { OK: 0, THROTTLED: 1, BLOCKED: 2 } as const;

/**
 * Reads shared state (KV). When it does not answer — a JetStream leader election, a lost node —
 * the caller gets a retryable `service_unavailable`, not an `internal` error.
 */
async function sharedState<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof LlmProviderError) throw error;
    throw new LlmProviderError(
      "service_unavailable",
      `provider health is not readable right now (shared state on JetStream did not answer: ${
        error instanceof Error ? error.message : String(error)
      }); retry`,
    );
  }
}

/**
 * QRY-002: one provider's health, or the aggregate of all providers with the status of every
 * fallback chain. A provider this worker cannot call is reported unhealthy and BLOCKED.
 */
export function createGetProviderHealthHandler(deps: GetProviderHealthDeps): Handler {
  async function healthOf(providerId: string, now: number): Promise<ProviderHealth> {
    const [snapshot, budget] = await Promise.all([
      sharedState(() => deps.readHealth(providerId)),
      sharedState(() => deps.rateLimitStatus(providerId)),
    ]);
    const health = toProviderHealth(providerId, snapshot, deps.thresholds, now);
    if (SEVERITY[budget] > SEVERITY[health.rate_limit_status]) health.rate_limit_status = budget;
    if (deps.isProviderAvailable(providerId)) return health;
    return { ...health, is_healthy: false, health_score: 0, rate_limit_status: "BLOCKED" };
  }

  return async function getProviderHealth(body): Promise<ProviderHealth | AggregateHealth> {
    const request = parseRequest(GetProviderHealthSchema, body);
    const catalog = deps.catalog();
    const now = Date.now();
    if (request.provider_id !== undefined) {
      if (!catalog.providers.has(request.provider_id)) {
        throw new LlmProviderError(
          "unknown_provider",
          `provider ${quoteValue(request.provider_id)} is not configured`,
          {
            field: "provider_id",
          },
        );
      }
      return healthOf(request.provider_id, now);
    }
    const providers = await Promise.all([...catalog.providers.keys()].map((id) => healthOf(id, now)));
    const byId = new Map(providers.map((health) => [health.provider_id, health]));
    const active = providers.filter((health) => catalog.providers.get(health.provider_id)?.is_active);
    const score =
      active.length === 0 ? 0 : active.reduce((sum, health) => sum + health.health_score, 0) / active.length;
    return {
      is_healthy: score >= 0.5,
      health_score: Math.round(score * 1000) / 1000,
      providers,
      fallback_chains: catalog.chains.map((chain) => {
        const targets = chain.models.map((modelName) => {
          const providerId = catalog.models.get(modelName)?.provider_id ?? "";
          return {
            provider_id: providerId,
            model: modelName,
            is_healthy: byId.get(providerId)?.is_healthy ?? false,
          };
        });
        const healthy = targets.filter((target) => target.is_healthy).length;
        const status = healthy === targets.length ? "healthy" : healthy === 0 ? "down" : "degraded";
        return { chain_id: chain.id, targets, status };
      }),
    };
  };
}
