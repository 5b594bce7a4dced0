import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import type { RateLimiter, RateLimits, TokenSettlement } from "../../ports/rate-limiter.js";
import { addToWindow, readWindow } from "./kv-rate-limit-window.js";
import type { WindowUsage } from "./kv-rate-limit-window.js";
import { toKvToken } from "./kv-token.js";

const WINDOW_MS = 60_000;
/** Windows are kept a little past their minute, then expire with the bucket's TTL. */
export const RATE_LIMIT_ENTRY_TTL_MS = 3 * WINDOW_MS;
/** A worker reserves this share of a limit at a time (at least 1): few KV writes, little waste. */
const LEASE_SHARE = 0.05;

/** What one worker reserved of a budget's window and has not spent yet. */
interface Lease {
  window: number;
  requests: number;
  tokens: number;
  /** The shared budget of this window is spent: refuse without asking again. */
  exhausted: boolean;
}

export interface KvRateLimiterOptions {
  nc: NatsConnection;
  bucket: string;
  logger: Logger;
  /** The clock windows are cut from (ms since the epoch); `Date.now` unless a test turns the minutes. */
  now?: () => number;
}

const windowOf = (time: number) => time - (time % WINDOW_MS);

/**
 * What a worker reserves for a request of `tokens`, given the window's shared count: a lease share
 * (at least the request), no more than is left; undefined when what is left cannot take it.
 */
function planLease(usage: WindowUsage, limits: RateLimits, tokens: number): WindowUsage | undefined {
  const requests =
    limits.rpm === undefined
      ? 0
      : Math.min(Math.max(1, Math.ceil(limits.rpm * LEASE_SHARE)), limits.rpm - usage.requests);
  const granted =
    limits.tpm === undefined
      ? 0
      : Math.min(Math.max(tokens, Math.ceil(limits.tpm * LEASE_SHARE)), limits.tpm - usage.tokens);
  if ((limits.rpm !== undefined && requests < 1) || (limits.tpm !== undefined && granted < tokens)) {
    return undefined;
  }
  return { requests, tokens: granted };
}

/**
 * RPM/TPM limits shared by every worker: a fixed one-minute window per budget (a provider or a
 * caller context), counted in a KV key (`<budget, base64url>.<window start>`). A worker does not
 * write per request: it reserves a lease of 5 % of the limit with a compare-and-set and spends it
 * locally. The shared count never exceeds the limit through reservations, so a provider never sees
 * more than its limit per window; only tokens really used beyond their estimate may push it
 * past. The price is that up to one unspent lease per worker goes unused in a window. Windows are
 * fixed, so a burst at the end of one and the start of the next can reach twice the per-minute
 * rate over a short span.
 *
 * Tokens are taken as an estimate and settled with the provider's count: tokens not used go back
 * to the worker's lease (no write; they let more requests in this window), tokens used beyond the
 * estimate come out of the lease, and what the lease cannot cover is added to the shared count.
 */
export async function createKvRateLimiter(options: KvRateLimiterOptions): Promise<RateLimiter> {
  // Created by ensureJetStreamState; reads go to the stream leader, so compare-and-set sees the latest.
  const kv: KV = await new Kvm(options.nc).open(options.bucket);
  return new SharedRateLimiter(kv, options.logger, options.now ?? Date.now);
}

/** This worker's leases of the shared windows (see `createKvRateLimiter`). */
class SharedRateLimiter implements RateLimiter {
  readonly #leases = new Map<string, Lease>();

  constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  acquire(budget: string, limits: RateLimits, tokens: number): boolean | Promise<boolean> {
    if (limits.rpm === undefined && limits.tpm === undefined) return true;
    const lease = this.#leaseOf(budget, windowOf(this.now()));
    if (fits(lease, limits, tokens)) return spend(lease, tokens);
    if (lease.exhausted) return false;
    return this.#reserve(budget, lease, limits, tokens).then(
      (ok) => ok && fits(lease, limits, tokens) && spend(lease, tokens),
    );
  }

  settle(
    budget: string,
    limits: RateLimits,
    { estimatedTokens, actualTokens, startedAt }: TokenSettlement,
  ): void | Promise<void> {
    if (limits.tpm === undefined || actualTokens === estimatedTokens) return;
    const lease = this.#leaseOf(budget, windowOf(this.now()));
    if (actualTokens < estimatedTokens) {
      // Only the window that took the estimate holds it: given to a later window's lease, these
      // tokens would let that window's shared count be passed.
      if (windowOf(startedAt) === lease.window) lease.tokens += estimatedTokens - actualTokens;
      return;
    }
    // Used beyond the estimate: counted in the window the answer came back in.
    const extra = actualTokens - estimatedTokens;
    if (lease.tokens >= extra) {
      lease.tokens -= extra;
      return;
    }
    const uncovered = extra - lease.tokens;
    lease.tokens = 0;
    return this.#charge(budget, lease, limits.tpm, uncovered);
  }

  retryAfterMs(): number {
    return WINDOW_MS - (this.now() % WINDOW_MS);
  }

  async status(budget: string, limits: RateLimits): Promise<"OK" | "THROTTLED" | "BLOCKED"> {
    if (limits.rpm === undefined && limits.tpm === undefined) return "OK";
    // The shared count of the current window: what all workers reserved, not one worker's view.
    const window = windowOf(this.now());
    // A read that fails throws: the health query then answers from the last known status, marked stale.
    const usage = await readWindow(this.kv, keyOf(budget, window));
    if (!usage) return "OK";
    const share = Math.max(
      limits.rpm === undefined ? 0 : usage.requests / limits.rpm,
      limits.tpm === undefined ? 0 : usage.tokens / limits.tpm,
    );
    const lease = this.#leases.get(budget);
    if (share >= 1 || (lease?.window === window && lease.exhausted)) return "BLOCKED";
    return share >= 0.8 ? "THROTTLED" : "OK";
  }

  #leaseOf(budget: string, window: number): Lease {
    let lease = this.#leases.get(budget);
    if (!lease || lease.window !== window) {
      lease = { window, requests: 0, tokens: 0, exhausted: false };
      this.#leases.set(budget, lease);
    }
    return lease;
  }

  /** Reserves more of the window's shared budget; false when nothing is left. */
  async #reserve(budget: string, lease: Lease, limits: RateLimits, tokens: number): Promise<boolean> {
    const outcome = await addToWindow(this.kv, keyOf(budget, lease.window), (usage) =>
      planLease(usage, limits, tokens),
    );
    if (outcome === "contended") {
      this.logger.warn({ budget }, "rate limit lease contended; refusing this request");
      return false;
    }
    if (outcome === "refused") {
      lease.exhausted = true;
      return false;
    }
    lease.requests += outcome.added.requests;
    lease.tokens += outcome.added.tokens;
    return true;
  }

  /** Adds tokens already used to the shared count, whatever is left of the limit: they were used. */
  async #charge(budget: string, lease: Lease, tpm: number, tokens: number): Promise<void> {
    try {
      const outcome = await addToWindow(this.kv, keyOf(budget, lease.window), () => ({
        requests: 0,
        tokens,
      }));
      if (typeof outcome === "string") {
        this.logger.warn(
          { budget, tokens },
          "rate limit count contended; tokens beyond the estimate not counted",
        );
        return;
      }
      if (outcome.total.tokens >= tpm) lease.exhausted = true;
    } catch (error) {
      this.logger.warn({ budget, tokens, err: error }, "tokens beyond the estimate not counted");
    }
  }
}

const keyOf = (budget: string, window: number) => `${toKvToken(budget)}.${window}`;

function fits(lease: Lease, limits: RateLimits, tokens: number): boolean {
  return (
    (limits.rpm === undefined || lease.requests >= 1) && (limits.tpm === undefined || lease.tokens >= tokens)
  );
}

function spend(lease: Lease, tokens: number): true {
  lease.requests--;
  lease.tokens -= tokens;
  return true;
}
