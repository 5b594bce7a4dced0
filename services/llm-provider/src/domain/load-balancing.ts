import { hashParts } from "./hash-parts.js";

import type { BalancingStrategy } from "@llm-provider/contracts";

export type { BalancingStrategy };

/** What is known of one deployment when a request is routed. */
export interface DeploymentState {
  /** Its configured share of the model's traffic. */
  weight: number;
  /** Its breaker is open: it is not called (listed last, so that it shows as skipped). */
  breakerOpen: boolean;
  /** Health score in [0, 1] (`healthScore`): the weight is scaled by it, 0 drains it. */
  healthScore: number;
  /** Calls to it in flight, across the workers as far as this one knows. */
  inFlight: number;
  /** Average latency over the health window; undefined when it has not been called in it. */
  averageLatencyMs: number | undefined;
}

export interface BalancingSettings {
  strategy: BalancingStrategy;
  /** `lowest_latency`: deployments within this share of the fastest one's latency share its traffic by weight. */
  latencyTolerance: number;
}

export interface BalancingFacts {
  /** In [0, 1): one draw per call. */
  random: () => number;
  /**
   * `prompt_cache_affinity`: the request's prompt-prefix key, or undefined when the prompt is too
   * short to be cached (it is then routed by weight).
   */
  affinityKey?: string | undefined;
}

/**
 * The deployments of one model in the order they are to be tried: the chosen one first, then the
 * others as siblings to fall over to. A deployment whose breaker is open, or whose health score
 * is 0, goes last (in configured order); the others' weights are scaled by their health score, so
 * that traffic moves away from a deployment as it starts failing, before its breaker opens.
 */
export function orderDeployments<T>(
  deployments: readonly T[],
  stateOf: (deployment: T) => DeploymentState,
  idOf: (deployment: T) => string,
  settings: BalancingSettings,
  facts: BalancingFacts,
): T[] {
  if (deployments.length <= 1) return [...deployments];
  const usable: { deployment: T; state: DeploymentState; weight: number }[] = [];
  const drained: T[] = [];
  for (const deployment of deployments) {
    const state = stateOf(deployment);
    const weight = state.weight * state.healthScore;
    if (state.breakerOpen || !(weight > 0)) drained.push(deployment);
    else usable.push({ deployment, state, weight });
  }
  const byWeight = () => weightedShuffle(usable, facts.random);
  let ordered: typeof usable;
  switch (settings.strategy) {
    case "weighted":
      ordered = byWeight();
      break;
    case "least_busy":
      // Stable sort of a weighted shuffle: ties are broken by weight, at random.
      ordered = byWeight().sort(
        (a, b) => (a.state.inFlight + 1) / a.weight - (b.state.inFlight + 1) / b.weight,
      );
      break;
    case "lowest_latency":
      ordered = byLatency(usable, settings.latencyTolerance, facts.random);
      break;
    case "prompt_cache_affinity":
      ordered = facts.affinityKey === undefined ? byWeight() : byRendezvous(usable, facts.affinityKey, idOf);
      break;
  }
  return [...ordered.map((entry) => entry.deployment), ...drained];
}

/**
 * A weighted random order without replacement (Efraimidis–Spirakis): each entry draws
 * `u^(1/w)`, highest first, so an entry leads with probability weight / total weight.
 */
function weightedShuffle<E extends { weight: number }>(entries: readonly E[], random: () => number): E[] {
  return entries
    .map((entry) => ({ entry, key: Math.pow(random(), 1 / entry.weight) }))
    .sort((a, b) => b.key - a.key)
    .map(({ entry }) => entry);
}

/**
 * Fastest first: those within `tolerance` of the fastest share the lead by weight (so that one
 * slightly faster deployment does not take every request and lose its edge), then the rest by
 * latency. A deployment not measured in the window counts as fastest, so it gets measured.
 */
function byLatency<E extends { weight: number; state: DeploymentState }>(
  entries: readonly E[],
  tolerance: number,
  random: () => number,
): E[] {
  const latency = (entry: E) => entry.state.averageLatencyMs ?? 0;
  const best = Math.min(...entries.map(latency));
  const bound = best * (1 + tolerance);
  const leaders = entries.filter((entry) => latency(entry) <= bound);
  const rest = entries.filter((entry) => latency(entry) > bound).sort((a, b) => latency(a) - latency(b));
  return [...weightedShuffle(leaders, random), ...rest];
}

/**
 * Weighted rendezvous hashing: each deployment scores `-w / ln(h)`, with `h` in (0, 1) from the
 * hash of the key and its id; highest first. A key always lands on the same deployment, and a
 * deployment drained or added moves only the keys it gains or loses.
 */
function byRendezvous<T, E extends { deployment: T; weight: number }>(
  entries: readonly E[],
  key: string,
  idOf: (deployment: T) => string,
): E[] {
  const score = (entry: E) => {
    const unit = (parseInt(hashParts([key, idOf(entry.deployment)]).slice(0, 8), 16) + 0.5) / 4_294_967_296;
    return -entry.weight / Math.log(unit);
  };
  return entries
    .map((entry) => ({ entry, score: score(entry) }))
    .sort((a, b) => b.score - a.score)
    .map(({ entry }) => entry);
}

/**
 * The prompt-prefix key of a chat request for `prompt_cache_affinity`: a hash of its first
 * `prefixChars` characters (tools, then messages, as sent), or undefined when the prompt is
 * shorter: providers cache only long prefixes (OpenAI from 1,024 tokens), so a short prompt gains
 * nothing from sticking to one deployment.
 */
export function promptAffinityKey(promptParts: readonly unknown[], prefixChars: number): string | undefined {
  let prefix = "";
  for (const part of promptParts) {
    prefix += JSON.stringify(part);
    if (prefix.length >= prefixChars) return hashParts([prefix.slice(0, prefixChars)]);
  }
  return undefined;
}
