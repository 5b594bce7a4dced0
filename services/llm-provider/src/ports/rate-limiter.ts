export interface RateLimits {
  rpm?: number | undefined;
  tpm?: number | undefined;
}

/** A call's token estimate, corrected once the provider has counted. */
export interface TokenSettlement {
  /** What `acquire` took for the call. */
  estimatedTokens: number;
  /** What the provider counted. */
  actualTokens: number;
  /**
   * `Date.now()` at or before the `acquire`: only the window that took the estimate may get tokens
   * back, and a call that began before the minute turned may have been counted in the previous one.
   */
  startedAt: number;
}

/**
 * RPM/TPM budgets enforced across all workers, by name: a provider's id, or `caller:<context>`
 * for a calling context's own limits.
 */
export interface RateLimiter {
  /** Takes one request and `tokens` (an estimate) from the budget; false when spent. */
  acquire(budget: string, limits: RateLimits, tokens: number): boolean | Promise<boolean>;
  /**
   * Replaces an acquired estimate with the real count: fewer tokens go back to this worker's share
   * of the budget (same window only), more are taken from it, reserving from the shared count as
   * needed — past the limit if the tokens were really used, never past it otherwise. Never
   * throws; the promise, if any, resolves once the shared count is written.
   */
  settle(budget: string, limits: RateLimits, settlement: TokenSettlement): void | Promise<void>;
  /** Milliseconds until the budget renews. */
  retryAfterMs(budget: string): number;
  /** OK, THROTTLED (80 % of this window's shared budget reserved), BLOCKED (all of it). */
  status(budget: string, limits: RateLimits): Promise<"OK" | "THROTTLED" | "BLOCKED">;
}
