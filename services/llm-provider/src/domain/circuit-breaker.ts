export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one probe is let through. */
  cooldownMs: number;
}

/**
 * A circuit breaker as a pure state machine (time is passed in): closed → open after
 * `failureThreshold` consecutive failures; open → half-open after `cooldownMs`, where exactly one
 * probe goes through; the probe's success closes it, its failure opens it again.
 */
export class CircuitBreaker {
  #state: BreakerState = "closed";
  #consecutiveFailures = 0;
  #openedAt = 0;
  #probeInFlight = false;

  constructor(readonly policy: BreakerPolicy) {}

  get state(): BreakerState {
    return this.#state;
  }

  /** May a call go ahead now? In half-open, only the first caller (the probe) may. */
  tryAcquire(now: number): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "open") {
      if (now - this.#openedAt < this.policy.cooldownMs) return false;
      this.#state = "half_open";
      this.#probeInFlight = false;
    }
    if (this.#probeInFlight) return false;
    this.#probeInFlight = true;
    return true;
  }

  /** Milliseconds until a probe may go, 0 when calls go ahead now. */
  retryAfterMs(now: number): number {
    if (this.#state !== "open") return 0;
    return Math.max(0, this.policy.cooldownMs - (now - this.#openedAt));
  }

  recordSuccess(): void {
    this.#state = "closed";
    this.#consecutiveFailures = 0;
    this.#probeInFlight = false;
  }

  recordFailure(now: number): void {
    this.#probeInFlight = false;
    this.#consecutiveFailures++;
    if (this.#state === "half_open" || this.#consecutiveFailures >= this.policy.failureThreshold) {
      this.#state = "open";
      this.#openedAt = now;
    }
  }
}
