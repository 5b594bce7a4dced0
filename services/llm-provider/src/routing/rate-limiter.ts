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
  /** OK, THROTTLED (this worker used most of the window's budget), BLOCKED (spent). */
  status(providerId: string, limits: RateLimits): "OK" | "THROTTLED" | "BLOCKED";
}
