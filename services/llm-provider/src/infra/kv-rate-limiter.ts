import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import type { RateLimiter, RateLimits } from "../routing/rate-limiter.js";
import { toKvToken } from "./kv-token.js";

const WINDOW_MS = 60_000;
/** Windows are kept a little past their minute, then expire with the bucket's TTL. */
export const RATE_LIMIT_ENTRY_TTL_MS = 3 * WINDOW_MS;
/** A worker reserves this share of a limit at a time (at least 1): few KV writes, little waste. */
const LEASE_SHARE = 0.05;
const CAS_ATTEMPTS = 5;

interface Lease {
  window: number;
  requests: number;
  tokens: number;
  /** The shared budget of this window is spent: refuse without asking again. */
  exhausted: boolean;
  used: { requests: number; tokens: number };
}

interface WindowUsage {
  requests: number;
  tokens: number;
}

export interface KvRateLimiterOptions {
  nc: NatsConnection;
  bucket: string;
  logger: Logger;
}

/**
 * RPM/TPM limits shared by every worker: a fixed one-minute window per budget (a provider or a
 * caller context), counted in a KV key (`<budget, base64url>.<window start>`). A worker does not
 * write per request: it reserves a lease of 5 % of the limit with a compare-and-set and spends it
 * locally. The shared count never exceeds the limit, so a provider never sees more than its limit
 * per window; the price is that up to
 * one unspent lease per worker goes unused in a window. Windows are fixed, so a burst at the end
 * of one and the start of the next can reach twice the per-minute rate over a short span.
 */
export async function createKvRateLimiter(options: KvRateLimiterOptions): Promise<RateLimiter> {
  // Created by ensureJetStreamState; reads go to the stream leader, so compare-and-set sees the latest.
  const kv: KV = await new Kvm(options.nc).open(options.bucket);
  const leases = new Map<string, Lease>();

  function leaseOf(budget: string, window: number): Lease {
    let lease = leases.get(budget);
    if (!lease || lease.window !== window) {
      lease = { window, requests: 0, tokens: 0, exhausted: false, used: { requests: 0, tokens: 0 } };
      leases.set(budget, lease);
    }
    return lease;
  }

  function fits(lease: Lease, limits: RateLimits, tokens: number): boolean {
    return (
      (limits.rpm === undefined || lease.requests >= 1) &&
      (limits.tpm === undefined || lease.tokens >= tokens)
    );
  }

  function spend(lease: Lease, tokens: number): true {
    lease.requests--;
    lease.tokens -= tokens;
    lease.used.requests++;
    lease.used.tokens += tokens;
    return true;
  }

  /** Reserves more of the window's shared budget; false when nothing is left. */
  async function reserve(budget: string, lease: Lease, limits: RateLimits, tokens: number): Promise<boolean> {
    const key = `${toKvToken(budget)}.${lease.window}`;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const entry = await kv.get(key);
      const usage: WindowUsage =
        entry && entry.value.length > 0 ? entry.json<WindowUsage>() : { requests: 0, tokens: 0 };
      const wantRequests = limits.rpm === undefined ? 0 : Math.max(1, Math.ceil(limits.rpm * LEASE_SHARE));
      const wantTokens = limits.tpm === undefined ? 0 : Math.max(tokens, Math.ceil(limits.tpm * LEASE_SHARE));
      const gotRequests = limits.rpm === undefined ? 0 : Math.min(wantRequests, limits.rpm - usage.requests);
      const gotTokens = limits.tpm === undefined ? 0 : Math.min(wantTokens, limits.tpm - usage.tokens);
      if ((limits.rpm !== undefined && gotRequests < 1) || (limits.tpm !== undefined && gotTokens < tokens)) {
        lease.exhausted = true;
        return false;
      }
      const next = JSON.stringify({
        requests: usage.requests + gotRequests,
        tokens: usage.tokens + gotTokens,
      });
      try {
        if (entry) await kv.update(key, next, entry.revision);
        else await kv.create(key, next);
      } catch {
        continue; // another worker reserved at the same moment: read again
      }
      lease.requests += gotRequests;
      lease.tokens += gotTokens;
      return true;
    }
    options.logger.warn({ budget }, "rate limit lease contended; refusing this request");
    return false;
  }

  return {
    acquire(budget, limits, tokens) {
      if (limits.rpm === undefined && limits.tpm === undefined) return true;
      const now = Date.now();
      const lease = leaseOf(budget, now - (now % WINDOW_MS));
      if (fits(lease, limits, tokens)) return spend(lease, tokens);
      if (lease.exhausted) return false;
      return reserve(budget, lease, limits, tokens).then(
        (ok) => ok && fits(lease, limits, tokens) && spend(lease, tokens),
      );
    },
    retryAfterMs() {
      const now = Date.now();
      return WINDOW_MS - (now % WINDOW_MS);
    },
    async status(budget, limits) {
      if (limits.rpm === undefined && limits.tpm === undefined) return "OK";
      // The shared count of the current window: what all workers reserved, not one worker's view.
      const now = Date.now();
      const key = `${toKvToken(budget)}.${now - (now % WINDOW_MS)}`;
      const entry = await kv.get(key).catch(() => null); // the bucket is away: nothing known to the contrary
      if (!entry || entry.value.length === 0) return "OK";
      const usage = entry.json<WindowUsage>();
      const share = Math.max(
        limits.rpm === undefined ? 0 : usage.requests / limits.rpm,
        limits.tpm === undefined ? 0 : usage.tokens / limits.tpm,
      );
      const lease = leases.get(budget);
      if (share >= 1 || (lease?.window === now - (now % WINDOW_MS) && lease.exhausted)) return "BLOCKED";
      return share >= 0.8 ? "THROTTLED" : "OK";
    },
  };
}
