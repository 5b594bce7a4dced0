export interface RateLimits {
  rpm?: number | undefined;
  tpm?: number | undefined;
}

/** RPM/TPM limits of the providers, enforced across all workers. */
export interface RateLimiter {
  /** Takes one request and `tokens` (an estimate) from the provider's budget; false when spent. */
  acquire(providerId: string, limits: RateLimits, tokens: number): boolean | Promise<boolean>;
  /** Milliseconds until the budget renews. */
  retryAfterMs(providerId: string): number;
  /** OK, THROTTLED (80 % of this window's shared budget reserved), BLOCKED (all of it). */
  status(providerId: string, limits: RateLimits): Promise<"OK" | "THROTTLED" | "BLOCKED">;
}
