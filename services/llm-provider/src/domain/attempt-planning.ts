import { exponentialBackoffMs } from "./backoff.js";
import type { ProviderSpec } from "./catalog.js";
import { FailureClass, failureTraits } from "./failure.js";

/** The least time worth starting an attempt with: below it, the attempt is not made. */
export const MIN_ATTEMPT_MS = 500;

/**
 * How long one attempt may take: what is left of the deadline, less what the next target is kept
 * (its own time limit, at most half of what is left), so that a slow failure cannot eat the
 * whole deadline before the fallback is tried.
 */
export function attemptBudgetMs(remainingMs: number, nextTargetTimeoutMs: number | undefined): number {
  if (nextTargetTimeoutMs === undefined) return remainingMs;
  return remainingMs - Math.min(remainingMs / 2, nextTargetTimeoutMs);
}

export type RetryPolicy = Pick<
  ProviderSpec["config"],
  | "max_retries"
  | "retries"
  | "max_retry_after_ms"
  | "slow_failure_ms"
  | "retry_initial_backoff_ms"
  | "retry_max_backoff_ms"
>;

export interface FailedAttempt {
  failure: FailureClass;
  /** How long the failed attempt took. */
  attemptMs: number;
  /** The provider's Retry-After, when it sent one. */
  retryAfterMs?: number | undefined;
}

export interface RetryState {
  /** Retries already made on this target, in all and of this failure's class. */
  retries: number;
  retriesOfClass: number;
  /** Whether a later target would take this failure (the chain's trigger is on). */
  fallbackLeft: boolean;
  remainingMs: number;
  /** In [0, 1): the backoff's jitter. */
  random: number;
}

/**
 * The delay before trying the same target again, or undefined to move on. Only what is cheap to
 * retry is retried while a fallback is left: a reset, a 5xx answered fast, a 429 with a short
 * Retry-After. A slow failure (timeout, stall, no first byte, or any failure that took longer
 * than `slow_failure_ms`) goes to the fallback at once; without one it is retried if time allows.
 * A retry must leave at least `MIN_ATTEMPT_MS` before the deadline.
 */
export function retryDelayMs(
  attempt: FailedAttempt,
  state: RetryState,
  policy: RetryPolicy,
): number | undefined {
  const { failure } = attempt;
  if (!failureTraits(failure).retryable || state.retries >= policy.max_retries) return undefined;
  if (state.retriesOfClass >= (policy.retries[failure] ?? 0)) return undefined;
  const slow = failure === FailureClass.timeout || attempt.attemptMs > policy.slow_failure_ms;
  if (slow && state.fallbackLeft) return undefined;
  let delay: number;
  if (attempt.retryAfterMs !== undefined) {
    if (attempt.retryAfterMs > policy.max_retry_after_ms && state.fallbackLeft) return undefined;
    delay = attempt.retryAfterMs;
  } else {
    delay = exponentialBackoffMs(
      state.retries,
      { initialMs: policy.retry_initial_backoff_ms, maxMs: policy.retry_max_backoff_ms },
      state.random,
    );
  }
  return delay + MIN_ATTEMPT_MS <= state.remainingMs ? delay : undefined;
}
