import { GetProviderHealthSchema, LlmProviderError, parseRequest, quoteValue } from "@llm-provider/contracts";
import type { AggregateHealth, ProviderHealth } from "@llm-provider/contracts";
import type { Catalog } from "../domain/catalog.js";
import { markStale, oldestAge, toProviderHealth } from "../domain/provider-health.js";
import type {
  HealthSnapshot,
  HealthThresholds,
  LastKnownHealth,
  StaleAge,
} from "../domain/provider-health.js";
import type { Handler, RequestContext } from "./context.js";

type RateLimitStatus = ProviderHealth["rate_limit_status"];

export interface GetProviderHealthDeps {
  catalog: () => Catalog;
  /**
   * Every worker's recent view of a provider, merged, read from the HealthCache now (eventually
   * consistent). May wait for seconds or fail while JetStream elects a leader.
   */
  readHealth: (providerId: string) => Promise<HealthSnapshot>;
  /** What this worker knows of the provider without waiting: its last successful read, its own window now. */
  lastKnownHealth: (providerId: string) => LastKnownHealth;
  /** Whether this worker can call the provider at all (active, key present, wire built). */
  isProviderAvailable: (providerId: string) => boolean;
  /** The provider's RPM/TPM budget from the shared count. May wait or fail like `readHealth`. */
  rateLimitStatus: (providerId: string) => Promise<RateLimitStatus>;
  thresholds: HealthThresholds;
  /** How long a query waits for shared state before it answers from the last known (default SHARED_STATE_WAIT_MS). */
  sharedStateWaitMs?: number;
  /** Epoch ms; `Date.now` unless a test sets the time. */
  now?: () => number;
}

/**
 * How long a health query waits for shared state (the HealthCache bucket, the rate-limit count)
 * before it answers from what this worker last knew, marked stale. A read takes a few ms when
 * JetStream is well; a bucket whose leader was on a lost node answers nothing for seconds, until
 * the election. A caller's query must be answered within 1 s (the NATS request default), on a
 * loaded machine too.
 */
export const SHARED_STATE_WAIT_MS = 300;

/**
 * A read unanswered this long is presumed lost (a stream without a leader drops requests, it does
 * not queue them): the next query sends a new one instead of joining it, so that an answer comes
 * soon after the election rather than after the lost read's timeout. The lost one runs out on its
 * own, so at most (read timeout / REREAD_AFTER_MS) reads of one provider are out at a time.
 */
export const REREAD_AFTER_MS = 1_000;

const SEVERITY = { OK: 0, THROTTLED: 1, BLOCKED: 2 } as const;

type Outcome<T> = { answered: true; value: T } | { answered: false; reason: string };

/**
 * Reads of shared state, one key (a provider) at a time, with a bounded wait: a query joins the
 * read of its key already out (unless it is presumed lost) and waits for it at most `waitMs`. A
 * read goes on after that; whenever one answers, its value is what is last known of its key.
 */
function createSharedReads<T>(read: (key: string) => Promise<T>, waitMs: number, now: () => number) {
  const pending = new Map<string, { outcome: Promise<Outcome<T>>; sentAt: number }>();
  const last = new Map<string, { value: T; sentAt: number; answeredAt: number }>();

  function send(key: string) {
    const sentAt = now();
    let outcome: Promise<Outcome<T>>;
    try {
      outcome = read(key).then(
        (value): Outcome<T> => ({ answered: true, value }),
        (error: unknown): Outcome<T> => ({
          answered: false,
          reason: error instanceof Error ? error.message : String(error),
        }),
      );
    } catch (error) {
      outcome = Promise.resolve({ answered: false, reason: String(error) });
    }
    const entry = { outcome, sentAt };
    pending.set(key, entry);
    // Registered before any query waits on it: a fresh value is remembered before it is used.
    void outcome.then((result) => {
      if (pending.get(key) === entry) pending.delete(key);
      // Reads may overlap (one presumed lost answers after all): the one sent last is what is known.
      if (result.answered && (last.get(key)?.sentAt ?? -Infinity) <= sentAt)
        last.set(key, { value: result.value, sentAt, answeredAt: now() });
    });
    return entry;
  }

  return {
    async get(key: string): Promise<Outcome<T>> {
      let entry = pending.get(key);
      if (!entry || now() - entry.sentAt >= REREAD_AFTER_MS) entry = send(key);
      return (
        (await within(entry.outcome, waitMs)) ?? {
          answered: false,
          reason: `no answer within ${waitMs} ms`,
        }
      );
    },
    last: (key: string) => last.get(key),
  };
}

/** `work`'s value, or undefined when `ms` passed first; the timer never outlives the wait. */
async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * QRY-002: one provider's health, or the aggregate of all providers with the status of every
 * fallback chain. A provider this worker cannot call is reported unhealthy and BLOCKED.
 *
 * Shared state is waited for at most `SHARED_STATE_WAIT_MS`: when it does not answer in time (a
 * JetStream leader election after a lost node), the answer is what this worker last knew, marked
 * `stale` with `stale_age_ms`, never an error and never a caller's timeout.
 */
export function createGetProviderHealthHandler(deps: GetProviderHealthDeps): Handler {
  const now = deps.now ?? Date.now;
  const waitMs = deps.sharedStateWaitMs ?? SHARED_STATE_WAIT_MS;
  const healthReads = createSharedReads(deps.readHealth, waitMs, now);
  const budgetReads = createSharedReads(deps.rateLimitStatus, waitMs, now);

  async function healthOf(providerId: string, context: RequestContext): Promise<ProviderHealth> {
    const [shared, budget] = await Promise.all([healthReads.get(providerId), budgetReads.get(providerId)]);
    const at = now();
    let snapshot: HealthSnapshot;
    let healthAge: StaleAge;
    if (shared.answered) {
      snapshot = shared.value;
    } else {
      const known = deps.lastKnownHealth(providerId);
      snapshot = known.snapshot;
      healthAge = known.readAt === null ? null : at - known.readAt;
    }
    let status: RateLimitStatus;
    let budgetAge: StaleAge;
    if (budget.answered) {
      status = budget.value;
    } else {
      // Never read: nothing says the budget is spent (as when the count has no entry yet).
      const known = budgetReads.last(providerId);
      status = known?.value ?? "OK";
      budgetAge = known ? at - known.answeredAt : null;
    }
    const age = oldestAge([healthAge, budgetAge]);
    if (age !== undefined) {
      context.log.debug(
        {
          provider_id: providerId,
          stale_age_ms: age,
          ...(shared.answered ? {} : { health_read: shared.reason }),
          ...(budget.answered ? {} : { rate_limit_read: budget.reason }),
        },
        "provider health from the last known state",
      );
    }
    const health = toProviderHealth(providerId, snapshot, deps.thresholds, at);
    if (SEVERITY[status] > SEVERITY[health.rate_limit_status]) health.rate_limit_status = status;
    const callable = deps.isProviderAvailable(providerId)
      ? health
      : { ...health, is_healthy: false, health_score: 0, rate_limit_status: "BLOCKED" as const };
    return markStale(callable, age);
  }

  return async function getProviderHealth(body, context): Promise<ProviderHealth | AggregateHealth> {
    const request = parseRequest(GetProviderHealthSchema, body);
    const catalog = deps.catalog();
    if (request.provider_id !== undefined) {
      if (!catalog.providers.has(request.provider_id)) {
        throw new LlmProviderError(
          "unknown_provider",
          `provider ${quoteValue(request.provider_id)} is not configured`,
          {
            field: "provider_id",
          },
        );
      }
      return healthOf(request.provider_id, context);
    }
    // Side by side: the aggregate waits for shared state once, not once per provider.
    const providers = await Promise.all([...catalog.providers.keys()].map((id) => healthOf(id, context)));
    const byId = new Map(providers.map((health) => [health.provider_id, health]));
    const active = providers.filter((health) => catalog.providers.get(health.provider_id)?.is_active);
    const score =
      active.length === 0 ? 0 : active.reduce((sum, health) => sum + health.health_score, 0) / active.length;
    const aggregate: AggregateHealth = {
      is_healthy: score >= 0.5,
      health_score: Math.round(score * 1000) / 1000,
      providers,
      fallback_chains: catalog.chains.map((chain) => {
        const targets = chain.models.map((modelName) => {
          const providerId = catalog.models.get(modelName)?.provider_id ?? "";
          return {
            provider_id: providerId,
            model: modelName,
            is_healthy: byId.get(providerId)?.is_healthy ?? false,
          };
        });
        const healthy = targets.filter((target) => target.is_healthy).length;
        const status = healthy === targets.length ? "healthy" : healthy === 0 ? "down" : "degraded";
        return { chain_id: chain.id, targets, status };
      }),
    };
    return markStale(
      aggregate,
      oldestAge(providers.map((health) => (health.stale ? (health.stale_age_ms ?? null) : undefined))),
    );
  };
}
