import type { ProviderHealth } from "@llm-provider/contracts";

/** One worker's view of a provider over the recent window: what it sends to the HealthCache. */
export interface HealthSnapshot {
  requests: number;
  errors: number;
  latencySumMs: number;
  lastError: string | null;
  lastErrorAt: number | null;
  lastSuccessAt: number | null;
  /** Last time the provider answered "rate limited" (429). */
  rateLimitedAt: number | null;
  /** Calls to the provider in flight when the snapshot was taken (unset: none). */
  inFlight?: number | undefined;
}

export interface HealthThresholds {
  /** How far back requests count. */
  windowMs: number;
  /** Error rate at which the error part of the score reaches 0. */
  maxErrorRate: number;
  /** Average latency up to which the latency part of the score is 1. */
  okLatencyMs: number;
  /** Average latency at (and beyond) which the latency part of the score is 0.5. */
  slowLatencyMs: number;
}

export const DEFAULT_HEALTH_THRESHOLDS: HealthThresholds = {
  windowMs: 60_000,
  maxErrorRate: 0.5,
  okLatencyMs: 5_000,
  slowLatencyMs: 30_000,
};

const BUCKETS = 6;

interface Bucket {
  start: number;
  requests: number;
  errors: number;
  latencySumMs: number;
}

/**
 * Request outcomes of one provider in a sliding window of six buckets (pure: time is passed in).
 * Recording is O(1) and allocation-free once the buckets exist.
 */
export class HealthWindow {
  readonly #bucketMs: number;
  readonly #buckets: Bucket[] = [];
  #lastError: string | null = null;
  #lastErrorAt: number | null = null;
  #lastSuccessAt: number | null = null;
  #rateLimitedAt: number | null = null;

  constructor(windowMs: number) {
    this.#bucketMs = Math.max(1, Math.ceil(windowMs / BUCKETS));
    for (let index = 0; index < BUCKETS; index++)
      this.#buckets.push({ start: -Infinity, requests: 0, errors: 0, latencySumMs: 0 });
  }

  record(
    now: number,
    outcome: { ok: boolean; latencyMs: number; error?: string; rateLimited?: boolean },
  ): void {
    const start = now - (now % this.#bucketMs);
    const bucket = this.#buckets[Math.floor(now / this.#bucketMs) % BUCKETS]!;
    if (bucket.start !== start) {
      bucket.start = start;
      bucket.requests = 0;
      bucket.errors = 0;
      bucket.latencySumMs = 0;
    }
    bucket.requests++;
    bucket.latencySumMs += outcome.latencyMs;
    if (outcome.ok) {
      this.#lastSuccessAt = now;
    } else {
      bucket.errors++;
      this.#lastError = outcome.error ?? "error";
      this.#lastErrorAt = now;
      if (outcome.rateLimited) this.#rateLimitedAt = now;
    }
  }

  snapshot(now: number): HealthSnapshot {
    const oldest = now - this.#bucketMs * BUCKETS;
    const totals = { requests: 0, errors: 0, latencySumMs: 0 };
    for (const bucket of this.#buckets) {
      if (bucket.start <= oldest) continue;
      totals.requests += bucket.requests;
      totals.errors += bucket.errors;
      totals.latencySumMs += bucket.latencySumMs;
    }
    return {
      ...totals,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
      lastSuccessAt: this.#lastSuccessAt,
      rateLimitedAt: this.#rateLimitedAt,
    };
  }
}

const latest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** Several workers' snapshots of one provider → one: counts add up, the latest events win. */
export function mergeHealthSnapshots(snapshots: readonly HealthSnapshot[]): HealthSnapshot {
  const merged: HealthSnapshot = {
    requests: 0,
    errors: 0,
    latencySumMs: 0,
    lastError: null,
    lastErrorAt: null,
    lastSuccessAt: null,
    rateLimitedAt: null,
  };
  for (const snapshot of snapshots) {
    merged.requests += snapshot.requests;
    merged.errors += snapshot.errors;
    merged.latencySumMs += snapshot.latencySumMs;
    if (
      snapshot.lastErrorAt !== null &&
      (merged.lastErrorAt === null || snapshot.lastErrorAt > merged.lastErrorAt)
    ) {
      merged.lastError = snapshot.lastError;
      merged.lastErrorAt = snapshot.lastErrorAt;
    }
    merged.lastSuccessAt = latest(merged.lastSuccessAt, snapshot.lastSuccessAt);
    merged.rateLimitedAt = latest(merged.rateLimitedAt, snapshot.rateLimitedAt);
    if (snapshot.inFlight) merged.inFlight = (merged.inFlight ?? 0) + snapshot.inFlight;
  }
  return merged;
}

/**
 * Health score in [0, 1]: the error part falls linearly from 1 (no errors) to 0 (at
 * `maxErrorRate`), the latency part from 1 (average ≤ `okLatencyMs`) to 0.5 (≥ `slowLatencyMs`);
 * the score is their product. No traffic in the window scores 1: nothing says otherwise.
 */
export function healthScore(snapshot: HealthSnapshot, thresholds: HealthThresholds): number {
  if (snapshot.requests === 0) return 1;
  const errorRate = snapshot.errors / snapshot.requests;
  const errorPart = Math.max(0, 1 - errorRate / thresholds.maxErrorRate);
  const averageLatency = snapshot.latencySumMs / snapshot.requests;
  const span = thresholds.slowLatencyMs - thresholds.okLatencyMs;
  const slowness =
    span <= 0
      ? averageLatency > thresholds.okLatencyMs
        ? 1
        : 0
      : (averageLatency - thresholds.okLatencyMs) / span;
  const latencyPart = 1 - 0.5 * Math.min(1, Math.max(0, slowness));
  return Math.round(errorPart * latencyPart * 1000) / 1000;
}

/** The ProviderHealth read model of one provider from its merged snapshot. */
export function toProviderHealth(
  providerId: string,
  snapshot: HealthSnapshot,
  thresholds: HealthThresholds,
  now: number,
): ProviderHealth {
  const score = healthScore(snapshot, thresholds);
  const throttled = snapshot.rateLimitedAt !== null && now - snapshot.rateLimitedAt < thresholds.windowMs;
  return {
    provider_id: providerId,
    is_healthy: score >= 0.5,
    health_score: score,
    error_count: snapshot.errors,
    request_count: snapshot.requests,
    average_latency_ms:
      snapshot.requests === 0 ? 0 : Math.round((snapshot.latencySumMs / snapshot.requests) * 1000) / 1000,
    last_error: snapshot.lastError,
    last_success_timestamp:
      snapshot.lastSuccessAt === null ? null : new Date(snapshot.lastSuccessAt).toISOString(),
    rate_limit_status: throttled ? "THROTTLED" : "OK",
    updated_at: new Date(now).toISOString(),
  };
}

/**
 * What a worker knows of a provider when the HealthCache does not answer in time (a JetStream
 * leader election, a lost node): the other workers' entries as its last successful read found
 * them, merged with its own window as it is now.
 */
export interface LastKnownHealth {
  snapshot: HealthSnapshot;
  /** When that read answered (epoch ms); null when this worker has not read the provider yet. */
  readAt: number | null;
}

/**
 * How old the shared state behind an answer is: `undefined` when it was read just now (fresh),
 * else the ms since it was last read, or `null` when it never was.
 */
export type StaleAge = number | null | undefined;

/** The age of an answer made of several parts: fresh when all are, else the oldest (never read is oldest). */
export function oldestAge(ages: readonly StaleAge[]): StaleAge {
  let oldest: number | undefined;
  for (const age of ages) {
    if (age === undefined) continue;
    if (age === null) return null;
    oldest = oldest === undefined ? age : Math.max(oldest, age);
  }
  return oldest;
}

/**
 * An answer marked `stale` with its age (whole ms, never negative), or left as it is when fresh:
 * a fresh answer carries neither field, so it reads as it did before they existed.
 */
export function markStale<T extends { stale?: boolean; stale_age_ms?: number | null }>(
  answer: T,
  age: StaleAge,
): T {
  if (age === undefined) return answer;
  return { ...answer, stale: true, stale_age_ms: age === null ? null : Math.max(0, Math.round(age)) };
}
