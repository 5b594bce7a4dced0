export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/**
 * Delay before retry number `retry` (0 = first retry): exponential from `initialMs`, capped at
 * `maxMs`, with up to 25 % jitter subtracted so that many workers don't retry in lock-step.
 * `random` is injected (0 ≤ random < 1) to keep this pure and testable.
 */
export function exponentialBackoffMs(retry: number, policy: BackoffPolicy, random: number): number {
  const base = Math.min(policy.initialMs * 2 ** retry, policy.maxMs);
  return Math.round(base * (1 - random * 0.25));
}
