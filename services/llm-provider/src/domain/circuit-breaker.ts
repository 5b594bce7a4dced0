export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one probe is let through. */
  cooldownMs: number;
  /** Optional: open when at least this share of the last `rateWindow` calls failed … */
  failureRate?: number | undefined;
  /** … counted over this many most recent calls (and only once that many were made). */
  rateWindow?: number | undefined;
}

/**
 * A circuit breaker as a pure state machine (time is passed in): closed → open after
 * `failureThreshold` consecutive failures, or a failure rate over the recent calls; open →
 * half-open after `cooldownMs`, where exactly one probe goes through; the probe's success closes
 * it, its failure opens it again. `open`/`close` apply a transition decided elsewhere (another
 * worker), so that many workers act as one breaker.
 */
export class CircuitBreaker {
  #state: BreakerState = "closed";
  #consecutiveFailures = 0;
  #openedAt = 0;
  #probeInFlight = false;
  readonly #recent: boolean[] = [];

  constructor(readonly policy: BreakerPolicy) {}

  get state(): BreakerState {
    return this.#state;
  }

  get openedAt(): number {
    return this.#openedAt;
  }

  /** May a call go ahead now? In half-open, only the first caller (the probe) may. */
  tryAcquire(now: number): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "open") {
      if (!this.cooledDown(now)) return false;
      this.#state = "half_open";
      this.#probeInFlight = false;
    }
    if (this.#probeInFlight) return false;
    this.#probeInFlight = true;
    return true;
  }

  /** Whether an open breaker's cool-down is over (a probe may be tried). */
  cooledDown(now: number): boolean {
    return now - this.#openedAt >= this.policy.cooldownMs;
  }

  /** Milliseconds until a probe may go, 0 when calls go ahead now. */
  retryAfterMs(now: number): number {
    if (this.#state !== "open") return 0;
    return Math.max(0, this.policy.cooldownMs - (now - this.#openedAt));
  }

  recordSuccess(): void {
    if (this.#state !== "closed") this.close();
    this.#consecutiveFailures = 0;
    this.#remember(true);
  }

  recordFailure(now: number): void {
    this.#probeInFlight = false;
    this.#consecutiveFailures++;
    this.#remember(false);
    if (
      this.#state === "half_open" ||
      this.#consecutiveFailures >= this.policy.failureThreshold ||
      this.#rateTripped()
    ) {
      this.open(now);
    }
  }

  open(openedAt: number): void {
    this.#state = "open";
    this.#openedAt = openedAt;
    this.#probeInFlight = false;
  }

  close(): void {
    this.#state = "closed";
    this.#consecutiveFailures = 0;
    this.#probeInFlight = false;
    this.#recent.length = 0;
  }

  #remember(ok: boolean): void {
    const window = this.policy.rateWindow;
    if (window === undefined) return;
    this.#recent.push(ok);
    if (this.#recent.length > window) this.#recent.shift();
  }

  #rateTripped(): boolean {
    const { failureRate, rateWindow } = this.policy;
    if (failureRate === undefined || rateWindow === undefined || this.#recent.length < rateWindow)
      return false;
    return this.#recent.filter((ok) => !ok).length / this.#recent.length >= failureRate;
  }
}
