export interface RateLimits {
  rpm?: number | undefined;
  tpm?: number | undefined;
}

/**
 * RPM/TPM budgets enforced across all workers, by name: a provider's id, or `caller:<context>`
 * for a calling context's own limits.
 */
export interface RateLimiter {
  /** Takes one request and `tokens` (an estimate) from the budget; false when spent. */
  acquire(budget: string, limits: RateLimits, tokens: number): boolean | Promise<boolean>;
  /** Milliseconds until the budget renews. */
  retryAfterMs(budget: string): number;
  /** OK, THROTTLED (80 % of this window's shared budget reserved), BLOCKED (all of it). */
  status(budget: string, limits: RateLimits): Promise<"OK" | "THROTTLED" | "BLOCKED">;
}
