import { LlmProviderError } from "@llm-provider/contracts";
import type { RateLimiter, RateLimits, TokenSettlement } from "../ports/rate-limiter.js";

/** Per-caller request and token budgets (`callers.contexts.<context>.rpm/tpm`), across all workers. */
export interface CallerLimits {
  /** Takes one request and `estimatedTokens` from the caller's budget, or throws `rate_limited`. */
  admit(caller: string, estimatedTokens: number): void | Promise<void>;
  /**
   * Replaces the admitted estimate with the tokens the request really used upstream, once it is
   * answered. Never throws; the promise, if any, resolves once the shared count is written.
   */
  settle(caller: string, settlement: TokenSettlement): void | Promise<void>;
}

/**
 * A caller's budget, counted by the same shared limiter as the providers' under a name no
 * provider id can take (provider ids have no ':'). A caller without limits is not counted.
 */
export function createCallerLimits(
  limiter: RateLimiter,
  limitsOf: (caller: string) => RateLimits | undefined,
): CallerLimits {
  return {
    admit(caller, estimatedTokens) {
      const limits = limitsOf(caller);
      if (!limits || (limits.rpm === undefined && limits.tpm === undefined)) return;
      const budget = `caller:${caller}`;
      const refuse = (admitted: boolean) => {
        if (admitted) return;
        throw new LlmProviderError("rate_limited", `rate limit of caller '${caller}' reached`, {
          retryAfterMs: limiter.retryAfterMs(budget),
          details: { caller },
        });
      };
      const admitted = limiter.acquire(budget, limits, estimatedTokens);
      return typeof admitted === "boolean" ? refuse(admitted) : admitted.then(refuse);
    },
    settle(caller, settlement) {
      const limits = limitsOf(caller);
      if (limits?.tpm === undefined) return; // no token budget: nothing was counted
      return limiter.settle(`caller:${caller}`, limits, settlement);
    },
  };
}
