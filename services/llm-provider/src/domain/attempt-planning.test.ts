import { describe, expect, it } from "vitest";
import { attemptBudgetMs, MIN_ATTEMPT_MS, retryDelayMs } from "./attempt-planning.js";
import type { RetryPolicy, RetryState } from "./attempt-planning.js";

const policy: RetryPolicy = {
  max_retries: 2,
  retries: { connection: 2, server_error: 1, rate_limited: 1, timeout: 1 },
  max_retry_after_ms: 2_000,
  slow_failure_ms: 3_000,
  retry_initial_backoff_ms: 250,
  retry_max_backoff_ms: 2_000,
};
const state = (overrides: Partial<RetryState> = {}): RetryState => ({
  retries: 0,
  retriesOfClass: 0,
  fallbackLeft: true,
  remainingMs: 60_000,
  random: 0,
  ...overrides,
});

describe("attemptBudgetMs", () => {
  it("keeps the next target its time limit, at most half of what is left", () => {
    expect(attemptBudgetMs(60_000, undefined)).toBe(60_000);
    expect(attemptBudgetMs(60_000, 60_000)).toBe(30_000);
    expect(attemptBudgetMs(60_000, 10_000)).toBe(50_000);
  });
});

describe("retryDelayMs", () => {
  it("retries what is cheap: a reset, a fast 5xx, a 429 with a short Retry-After", () => {
    expect(retryDelayMs({ failure: "connection", attemptMs: 5 }, state(), policy)).toBe(250);
    expect(retryDelayMs({ failure: "server_error", attemptMs: 100 }, state({ retries: 1 }), policy)).toBe(
      500,
    );
    expect(
      retryDelayMs({ failure: "rate_limited", attemptMs: 5, retryAfterMs: 1_500 }, state(), policy),
    ).toBe(1_500);
  });

  it("moves on after a slow failure while a fallback is left, retries it when none is", () => {
    expect(retryDelayMs({ failure: "timeout", attemptMs: 8_000 }, state(), policy)).toBeUndefined();
    expect(retryDelayMs({ failure: "server_error", attemptMs: 3_500 }, state(), policy)).toBeUndefined();
    expect(
      retryDelayMs({ failure: "timeout", attemptMs: 8_000 }, state({ fallbackLeft: false }), policy),
    ).toBe(250);
  });

  it("falls back on a long Retry-After, waits it out without a fallback if the deadline allows", () => {
    const long = { failure: "rate_limited" as const, attemptMs: 5, retryAfterMs: 10_000 };
    expect(retryDelayMs(long, state(), policy)).toBeUndefined();
    expect(retryDelayMs(long, state({ fallbackLeft: false }), policy)).toBe(10_000);
    expect(retryDelayMs(long, state({ fallbackLeft: false, remainingMs: 10_000 }), policy)).toBeUndefined();
  });

  it("never retries past the caps or what cannot be retried, nor without time for an attempt", () => {
    expect(retryDelayMs({ failure: "bad_request", attemptMs: 5 }, state(), policy)).toBeUndefined();
    expect(
      retryDelayMs({ failure: "connection", attemptMs: 5 }, state({ retries: 2 }), policy),
    ).toBeUndefined();
    expect(
      retryDelayMs({ failure: "server_error", attemptMs: 5 }, state({ retriesOfClass: 1 }), policy),
    ).toBeUndefined();
    expect(retryDelayMs({ failure: "overloaded", attemptMs: 5 }, state(), policy)).toBeUndefined(); // not listed: 0
    expect(
      retryDelayMs(
        { failure: "connection", attemptMs: 5 },
        state({ remainingMs: 250 + MIN_ATTEMPT_MS - 1 }),
        policy,
      ),
    ).toBeUndefined();
  });
});
