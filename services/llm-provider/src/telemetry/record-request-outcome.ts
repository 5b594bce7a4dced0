import { trace as traceApi } from "@opentelemetry/api";
import type { Attributes, Context } from "@opentelemetry/api";
import type { Attempt } from "@llm-provider/contracts";
import { getInstruments } from "./instruments.js";
import { ATTR } from "./semconv.js";

/** The metric attribute sets of one operation, model and provider, built once (see below). */
interface OutcomeAttributes {
  request: Attributes;
  withProvider: Attributes;
  hit: Attributes;
  miss: Attributes;
}

// Keyed by operation, model, provider and caller: bounded by the configuration. Reused objects spare a
// fresh allocation per request (the SDK hashes the attributes on every record regardless).
const attributeSets = new Map<string, OutcomeAttributes>();

function attributesOf(
  operation: string,
  model: string,
  providerId: string,
  caller: string,
): OutcomeAttributes {
  const key = `${operation}\u0000${model}\u0000${providerId}\u0000${caller}`;
  let sets = attributeSets.get(key);
  if (!sets) {
    const request = { [ATTR.genAiOperationName]: operation, [ATTR.model]: model, [ATTR.caller]: caller };
    sets = {
      request,
      withProvider: { ...request, [ATTR.providerId]: providerId },
      hit: { ...request, result: "hit" },
      miss: { ...request, result: "miss" },
    };
    attributeSets.set(key, sets);
  }
  return sets;
}

/**
 * Puts what only the handler knows on the request's SERVER span — cost, attempts, who answered,
 * cache hits — and counts cost, retries and fallbacks. `trace`: the request's (`RequestContext.trace`).
 */
export function recordRequestOutcome(
  trace: Context,
  outcome: {
    operation: "chat" | "embeddings";
    /** The calling context: a bounded set (configured contexts and `anonymous`). */
    caller: string;
    model: string;
    providerId: string;
    costUsd: number;
    attempts: readonly Attempt[];
    cacheHit?: boolean;
    /** Embedding inputs served from the cache, and those that were not. */
    cacheLookups?: { hits: number; misses: number };
  },
): void {
  const span = traceApi.getSpan(trace);
  if (span) {
    span.setAttribute(ATTR.model, outcome.model);
    span.setAttribute(ATTR.providerId, outcome.providerId);
    span.setAttribute(ATTR.costUsd, outcome.costUsd);
    span.setAttribute(ATTR.attempts, outcome.attempts.length);
    if (outcome.cacheHit !== undefined) span.setAttribute(ATTR.cacheHit, outcome.cacheHit);
  }
  const instruments = getInstruments();
  const attributes = attributesOf(outcome.operation, outcome.model, outcome.providerId, outcome.caller);
  if (outcome.costUsd > 0) instruments.cost.add(outcome.costUsd, attributes.withProvider);
  if (outcome.attempts.length > 1) instruments.retries.add(outcome.attempts.length - 1, attributes.request);
  if (outcome.cacheLookups) {
    const { hits, misses } = outcome.cacheLookups;
    if (hits > 0) instruments.cacheLookups.add(hits, attributes.hit);
    if (misses > 0) instruments.cacheLookups.add(misses, attributes.miss);
  }
  const first = outcome.attempts[0];
  if (first && first.provider_id !== outcome.providerId) instruments.fallbacks.add(1, attributes.request);
}
