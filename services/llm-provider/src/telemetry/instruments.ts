import { metrics } from "@opentelemetry/api";
import type { Counter, Histogram, Meter } from "@opentelemetry/api";
import { METRIC, SCOPE } from "./semconv.js";

export interface Instruments {
  meter: Meter;
  tokenUsage: Histogram;
  operationDuration: Histogram;
  /** Streamed upstream calls: from the request to the first piece of the answer. */
  timeToFirstChunk: Histogram;
  cost: Counter;
  fallbacks: Counter;
  retries: Counter;
  cacheLookups: Counter;
  /** Requests not served at all (rare, hostile or misconfigured): by reason and caller. */
  refusedRequests: Counter;
  /** Requests answered `busy` (the in-flight bound was full): by caller. */
  busyRequests: Counter;
}

/**
 * Bucket boundaries of the GenAI histograms: token counts in powers of 4, durations doubling from
 * 10 ms. Kept stable (dashboards compare buckets over time); given as advice, so a View wins.
 */
export const TOKEN_USAGE_BOUNDARIES = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];
export const OPERATION_DURATION_BOUNDARIES = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

let instruments: Instruments | undefined;

/**
 * The service's metric instruments, made on first use from the global meter provider — a no-op
 * one unless OpenTelemetry was started (or a test installed one) before the first call: the
 * metrics API has no proxy that would pick up a provider registered later.
 */
export function getInstruments(): Instruments {
  if (instruments) return instruments;
  const meter = metrics.getMeter(SCOPE);
  instruments = {
    meter,
    tokenUsage: meter.createHistogram(METRIC.tokenUsage, {
      unit: "{token}",
      description: "Tokens used per upstream call, by gen_ai.token.type (input/output)",
      advice: { explicitBucketBoundaries: TOKEN_USAGE_BOUNDARIES },
    }),
    operationDuration: meter.createHistogram(METRIC.operationDuration, {
      unit: "s",
      description: "Duration of upstream GenAI calls",
      advice: { explicitBucketBoundaries: OPERATION_DURATION_BOUNDARIES },
    }),
    timeToFirstChunk: meter.createHistogram(METRIC.timeToFirstChunk, {
      unit: "s",
      description: "Time from a streamed upstream call's start to its first chunk",
      advice: { explicitBucketBoundaries: OPERATION_DURATION_BOUNDARIES },
    }),
    cost: meter.createCounter(METRIC.cost, { unit: "USD", description: "Cost of answered requests" }),
    fallbacks: meter.createCounter(METRIC.fallbacks, {
      description: "Requests answered by a fallback target",
    }),
    retries: meter.createCounter(METRIC.retries, { description: "Upstream attempts beyond the first" }),
    cacheLookups: meter.createCounter(METRIC.cacheLookups, {
      description: "Embedding inputs looked up in the cache, by result (hit/miss)",
    }),
    refusedRequests: meter.createCounter(METRIC.requestsRefused, {
      description: "Requests not served: a reply subject that is not an inbox, or none",
    }),
    busyRequests: meter.createCounter(METRIC.requestsBusy, {
      description: "Requests answered busy: the worker's in-flight bound was full",
    }),
  };
  return instruments;
}
