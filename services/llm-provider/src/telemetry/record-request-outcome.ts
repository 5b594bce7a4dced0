import { trace } from "@opentelemetry/api";
import type { Attempt } from "@llm-provider/contracts";
import { getInstruments } from "./instruments.js";
import { ATTR } from "./semconv.js";

/**
 * Puts what only the handler knows on the request's SERVER span — cost, attempts, who answered,
 * cache hits — and counts cost, retries and fallbacks.
 */
export function recordRequestOutcome(outcome: {
  operation: "chat" | "embeddings";
  model: string;
  providerId: string;
  costUsd: number;
  attempts: readonly Attempt[];
  cacheHit?: boolean;
  /** Embedding inputs served from the cache, and those that were not. */
  cacheLookups?: { hits: number; misses: number };
}): void {
  const span = trace.getActiveSpan();
  span?.setAttributes({
    [ATTR.model]: outcome.model,
    [ATTR.providerId]: outcome.providerId,
    [ATTR.costUsd]: outcome.costUsd,
    [ATTR.attempts]: outcome.attempts.length,
    ...(outcome.cacheHit !== undefined ? { [ATTR.cacheHit]: outcome.cacheHit } : {}),
  });
  const instruments = getInstruments();
  const attributes = { [ATTR.genAiOperationName]: outcome.operation, [ATTR.model]: outcome.model };
  if (outcome.costUsd > 0)
    instruments.cost.add(outcome.costUsd, { ...attributes, [ATTR.providerId]: outcome.providerId });
  if (outcome.attempts.length > 1) instruments.retries.add(outcome.attempts.length - 1, attributes);
  if (outcome.cacheLookups) {
    const { hits, misses } = outcome.cacheLookups;
    if (hits > 0) instruments.cacheLookups.add(hits, { ...attributes, result: "hit" });
    if (misses > 0) instruments.cacheLookups.add(misses, { ...attributes, result: "miss" });
  }
  const first = outcome.attempts[0];
  if (first && first.provider_id !== outcome.providerId) instruments.fallbacks.add(1, attributes);
}
