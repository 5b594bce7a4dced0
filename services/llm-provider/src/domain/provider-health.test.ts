import { describe, expect, it } from "vitest";
import {
  DEFAULT_HEALTH_THRESHOLDS,
  HealthWindow,
  healthScore,
  markStale,
  mergeHealthSnapshots,
  oldestAge,
  toProviderHealth,
} from "./provider-health.js";

describe("HealthWindow", () => {
  it("counts requests, errors and latency in the window and forgets what slid out", () => {
    const window = new HealthWindow(60_000);
    window.record(1_000, { ok: true, latencyMs: 100 });
    window.record(2_000, { ok: false, latencyMs: 300, error: "upstream_timeout" });
    expect(window.snapshot(3_000)).toMatchObject({
      requests: 2,
      errors: 1,
      latencySumMs: 400,
      lastError: "upstream_timeout",
      lastErrorAt: 2_000,
      lastSuccessAt: 1_000,
      rateLimitedAt: null,
    });
    window.record(65_000, { ok: false, latencyMs: 10, error: "rate_limited", rateLimited: true });
    const later = window.snapshot(65_000);
    expect(later).toMatchObject({ requests: 1, errors: 1, rateLimitedAt: 65_000 });
    // The last events are remembered even when their bucket is gone.
    expect(later.lastSuccessAt).toBe(1_000);
    expect(window.snapshot(200_000).requests).toBe(0);
  });
});

describe("healthScore", () => {
  const snapshot = (requests: number, errors: number, averageMs: number) => ({
    requests,
    errors,
    latencySumMs: requests * averageMs,
    lastError: null,
    lastErrorAt: null,
    lastSuccessAt: null,
    rateLimitedAt: null,
  });
  it("is 1 without traffic or trouble, falls with the error rate to 0 at the maximum", () => {
    expect(healthScore(snapshot(0, 0, 0), DEFAULT_HEALTH_THRESHOLDS)).toBe(1);
    expect(healthScore(snapshot(10, 0, 100), DEFAULT_HEALTH_THRESHOLDS)).toBe(1);
    expect(healthScore(snapshot(10, 2, 100), DEFAULT_HEALTH_THRESHOLDS)).toBe(0.6);
    expect(healthScore(snapshot(10, 5, 100), DEFAULT_HEALTH_THRESHOLDS)).toBe(0);
  });
  it("halves at most for slowness", () => {
    expect(healthScore(snapshot(10, 0, 17_500), DEFAULT_HEALTH_THRESHOLDS)).toBe(0.75);
    expect(healthScore(snapshot(10, 0, 90_000), DEFAULT_HEALTH_THRESHOLDS)).toBe(0.5);
  });
});

describe("mergeHealthSnapshots and toProviderHealth", () => {
  it("adds workers' counts, keeps the latest error and success, and reports throttling", () => {
    const merged = mergeHealthSnapshots([
      {
        requests: 3,
        errors: 1,
        latencySumMs: 300,
        lastError: "a",
        lastErrorAt: 10,
        lastSuccessAt: 5,
        rateLimitedAt: null,
      },
      {
        requests: 1,
        errors: 1,
        latencySumMs: 100,
        lastError: "b",
        lastErrorAt: 20,
        lastSuccessAt: 1,
        rateLimitedAt: 20,
      },
    ]);
    expect(merged).toEqual({
      requests: 4,
      errors: 2,
      latencySumMs: 400,
      lastError: "b",
      lastErrorAt: 20,
      lastSuccessAt: 5,
      rateLimitedAt: 20,
    });
    const health = toProviderHealth("p", merged, DEFAULT_HEALTH_THRESHOLDS, 1_000);
    expect(health).toMatchObject({
      provider_id: "p",
      is_healthy: false,
      health_score: 0,
      error_count: 2,
      request_count: 4,
      average_latency_ms: 100,
      last_error: "b",
      last_success_timestamp: new Date(5).toISOString(),
      rate_limit_status: "THROTTLED",
    });
  });
});

describe("oldestAge and markStale", () => {
  it("is fresh only when every part is, else the oldest part's age, never read being the oldest", () => {
    expect(oldestAge([])).toBeUndefined();
    expect(oldestAge([undefined, undefined])).toBeUndefined();
    expect(oldestAge([undefined, 40, 1_200])).toBe(1_200);
    expect(oldestAge([5_000, null, undefined])).toBeNull();
  });

  it("leaves a fresh answer as it was, and marks a stale one with its age in whole ms", () => {
    const answer: { provider_id: string; request_count: number; stale?: boolean } = {
      provider_id: "p0",
      request_count: 3,
    };
    expect(markStale(answer, undefined)).toBe(answer);
    expect(markStale(answer, 1_234.6)).toEqual({ ...answer, stale: true, stale_age_ms: 1_235 });
    expect(markStale(answer, null)).toEqual({ ...answer, stale: true, stale_age_ms: null });
    // A clock that stepped back between the read and the answer gives no negative age.
    expect(markStale(answer, -3)).toMatchObject({ stale_age_ms: 0 });
  });
});
