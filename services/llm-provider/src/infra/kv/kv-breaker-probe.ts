import type { KV } from "@nats-io/kv";
import type { CircuitBreaker } from "../../domain/circuit-breaker.js";
import { encodeSharedState, parseSharedState } from "./kv-breaker-state.js";
import { toKvToken } from "./kv-token.js";

/**
 * The race for the one probe after a cool-down, across workers: the winner compare-and-sets the
 * shared open state to half-open in its name; the losers keep the breaker open.
 *
 * A core subscription also delivers a claim JetStream refused (the loser's), so the claims another
 * worker is seen making are tracked while one of ours is out: then our claim's outcome decides.
 */
export class ProbeClaims {
  /** Per target, how many probe claims of this worker are out now. */
  readonly #out = new Map<string, number>();
  /** Targets another worker claimed the probe of while a claim of ours was out. */
  readonly #foreign = new Set<string>();

  constructor(
    private readonly kv: KV,
    private readonly workerId: string,
  ) {}

  /**
   * Another worker's claim was seen. Returns whether a claim of ours is out (its outcome then
   * decides); otherwise the caller treats the breaker as open until that worker reports.
   */
  noteForeignClaim(target: string): boolean {
    if (!this.#out.has(target)) return false;
    this.#foreign.add(target);
    return true;
  }

  /** Tries to win the probe of `target`; true: this worker sends it. */
  async claim(target: string, breaker: CircuitBreaker): Promise<boolean> {
    this.#out.set(target, (this.#out.get(target) ?? 0) + 1);
    let won = false;
    try {
      won = await this.#claimOnce(target, breaker);
    } finally {
      const left = (this.#out.get(target) ?? 1) - 1;
      if (left > 0) this.#out.set(target, left);
      else this.#out.delete(target);
      // Lost to another worker's claim seen meanwhile: it probes, so our cool-down starts again.
      if (!won && this.#foreign.has(target) && breaker.state === "open") breaker.open(Date.now());
      if (left <= 0) this.#foreign.delete(target);
    }
    return won;
  }

  async #claimOnce(target: string, breaker: CircuitBreaker): Promise<boolean> {
    const key = toKvToken(target);
    try {
      const entry = await this.kv.get(key);
      if (entry && entry.value.length > 0) {
        const shared = parseSharedState(entry.string());
        if (!shared) return false;
        if (shared.state === "closed") {
          breaker.close();
          return true;
        }
        // Another worker's claim, stored and seen while ours was out: it probes, not us.
        if (shared.state === "half_open" && shared.by !== this.workerId && this.#foreign.has(target))
          return false;
        const probe = { state: "half_open" as const, opened_at: shared.opened_at, by: this.workerId };
        await this.kv.update(key, encodeSharedState(probe), entry.revision);
      }
    } catch {
      return false; // another worker won the probe (or the bucket is away): stay open
    }
    return breaker.tryAcquire(Date.now());
  }
}
