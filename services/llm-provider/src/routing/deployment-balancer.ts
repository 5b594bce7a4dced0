import type { Catalog, DeploymentOrder, ModelEntry } from "../domain/catalog.js";
import { orderDeployments, promptAffinityKey } from "../domain/load-balancing.js";
import type { DeploymentState } from "../domain/load-balancing.js";
import { healthScore } from "../domain/provider-health.js";
import type { HealthThresholds } from "../domain/provider-health.js";
import type { HealthCache } from "../ports/health-recorder.js";

export interface DeploymentBalancerOptions {
  /** Whether a deployment can be called now (its breaker is not open, its client exists). */
  isModelAvailable: (model: ModelEntry) => boolean;
  health: Pick<HealthCache, "lastKnown" | "read">;
  thresholds: HealthThresholds;
  latencyTolerance: number;
  affinityPrefixChars: number;
  /**
   * How old the other workers' view of a provider may get before it is read again — in the
   * background: a request never waits for it.
   */
  refreshMs: number;
  now?: () => number;
  random?: () => number;
}

/** Orders a model's deployments for one request (see `orderDeployments`). */
export interface DeploymentBalancer {
  /**
   * `promptParts`: the chat request's tools and messages, for prompt-cache affinity (asked only
   * for a model that uses it); none for embeddings.
   */
  orderFor(catalog: Catalog, promptParts?: () => readonly unknown[]): DeploymentOrder;
}

/**
 * The balancer over what this worker knows without waiting: breakers from memory, health and
 * calls in flight from the HealthCache (its own live, the other workers' as last read, refreshed
 * in the background once older than `refreshMs`).
 */
export function createDeploymentBalancer(options: DeploymentBalancerOptions): DeploymentBalancer {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const refreshing = new Set<string>();

  const refresh = (providerId: string, readAt: number | null) => {
    if (refreshing.has(providerId) || (readAt !== null && now() - readAt < options.refreshMs)) return;
    refreshing.add(providerId);
    // A failed read leaves the last known view in place; the next request tries again.
    void options.health
      .read(providerId)
      .catch(() => undefined)
      .finally(() => refreshing.delete(providerId));
  };

  const stateOf = (model: ModelEntry): DeploymentState => {
    const known = options.health.lastKnown(model.provider_id);
    refresh(model.provider_id, known.readAt);
    const { snapshot } = known;
    return {
      weight: model.weight ?? 1,
      breakerOpen: !options.isModelAvailable(model),
      healthScore: healthScore(snapshot, options.thresholds),
      inFlight: snapshot.inFlight ?? 0,
      averageLatencyMs: snapshot.requests > 0 ? snapshot.latencySumMs / snapshot.requests : undefined,
    };
  };

  return {
    orderFor(catalog, promptParts) {
      return (modelName, deployments) => {
        const strategy = catalog.balancing.get(modelName) ?? "weighted";
        const affinityKey =
          strategy === "prompt_cache_affinity" && promptParts
            ? promptAffinityKey(promptParts(), options.affinityPrefixChars)
            : undefined;
        return orderDeployments(
          deployments,
          stateOf,
          (model) => model.provider_id,
          { strategy, latencyTolerance: options.latencyTolerance },
          { random, affinityKey },
        );
      };
    },
  };
}
