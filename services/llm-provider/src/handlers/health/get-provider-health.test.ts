import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { AggregateHealth, ProviderHealth } from "@llm-provider/contracts";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Catalog, ModelEntry, ProviderSpec } from "../../domain/catalog.js";
import { DEFAULT_HEALTH_THRESHOLDS } from "../../domain/provider-health.js";
import type { HealthSnapshot, LastKnownHealth } from "../../domain/provider-health.js";
import type { RequestContext } from "../../ports/request-handler.js";
import { createGetProviderHealthHandler, REREAD_AFTER_MS } from "./get-provider-health.js";
import type { GetProviderHealthDeps } from "./get-provider-health.js";

type RateLimitStatus = ProviderHealth["rate_limit_status"];

const WAIT_MS = 20;
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

const context: RequestContext = {
  requestId: "r1",
  caller: "anonymous",
  requestIdFromCaller: false,
  receivedAt: 0,
  log: pino({ level: "silent" }),
  signal: new AbortController().signal,
  trace: ROOT_CONTEXT,
};

/** Providers `ids` (active), one model each, and one chain over all of them. */
function catalogOf(ids: string[]): Catalog {
  const providers = new Map(ids.map((id) => [id, { id, is_active: true } as unknown as ProviderSpec]));
  const models = new Map(
    ids.map((id) => [`m-${id}`, { model_name: `m-${id}`, provider_id: id } as unknown as ModelEntry]),
  );
  const chain = {
    id: "chain",
    models: [...models.keys()],
    triggers: { error: true, rate_limit: true, timeout: true },
  };
  const deployments = new Map([...models].map(([name, model]) => [name, [model]]));
  return {
    providers,
    models,
    deployments,
    balancing: new Map(),
    chains: [chain],
    chainsByPrimary: new Map(),
    createdAt: 0,
  };
}

function snapshot(requests: number, errors = 0): HealthSnapshot {
  return {
    requests,
    errors,
    latencySumMs: requests * 100,
    lastError: errors > 0 ? "upstream_timeout" : null,
    lastErrorAt: errors > 0 ? T0 - 1_000 : null,
    lastSuccessAt: requests > errors ? T0 - 500 : null,
    rateLimitedAt: null,
  };
}

/** A read the test answers (or never does) by hand. */
function manualRead<T>() {
  const calls: { key: string; resolve: (value: T) => void; reject: (error: Error) => void }[] = [];
  const read = vi.fn(
    (key: string) =>
      new Promise<T>((resolve, reject) => {
        calls.push({ key, resolve, reject });
      }),
  );
  return { read, calls };
}

interface Harness {
  handle: (body?: unknown) => Promise<ProviderHealth | AggregateHealth>;
  clock: { now: number };
}

function harness(overrides: Partial<GetProviderHealthDeps> & { ids?: string[] } = {}): Harness {
  const clock = { now: T0 };
  const handler = createGetProviderHealthHandler({
    catalog: () => catalogOf(overrides.ids ?? ["p0"]),
    readHealth: () => Promise.resolve(snapshot(10)),
    lastKnownHealth: (): LastKnownHealth => ({ snapshot: snapshot(0), readAt: null }),
    isProviderAvailable: () => true,
    rateLimitStatus: () => Promise.resolve("OK"),
    thresholds: DEFAULT_HEALTH_THRESHOLDS,
    sharedStateWaitMs: WAIT_MS,
    now: () => clock.now,
    ...overrides,
  });
  return {
    handle: (body = {}) => handler(body, context) as Promise<ProviderHealth | AggregateHealth>,
    clock,
  };
}

const one = (reply: ProviderHealth | AggregateHealth): ProviderHealth => {
  if ("providers" in reply) throw new Error("expected one provider's health");
  return reply;
};
const aggregate = (reply: ProviderHealth | AggregateHealth): AggregateHealth => {
  if (!("providers" in reply)) throw new Error("expected the aggregate");
  return reply;
};

/** Once every promise callback queued so far has run (a macrotask comes after all microtasks). */
const afterMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe("get_provider_health with shared state that answers", () => {
  it("answers fresh, without stale fields", async () => {
    const { handle } = harness({ rateLimitStatus: () => Promise.resolve("THROTTLED") });
    const reply = one(await handle({ provider_id: "p0" }));
    expect(reply).toMatchObject({
      provider_id: "p0",
      request_count: 10,
      error_count: 0,
      rate_limit_status: "THROTTLED",
      updated_at: new Date(T0).toISOString(),
    });
    expect(reply).not.toHaveProperty("stale");
    expect(reply).not.toHaveProperty("stale_age_ms");
    const all = aggregate(await handle());
    expect(all).not.toHaveProperty("stale");
    expect(all.providers[0]).not.toHaveProperty("stale");
  });
});

describe("get_provider_health when shared state does not answer in time", () => {
  it("answers from the last known health, marked stale with its age", async () => {
    const health = manualRead<HealthSnapshot>();
    const lastKnownHealth = vi.fn((): LastKnownHealth => ({ snapshot: snapshot(7, 1), readAt: T0 - 4_000 }));
    const { handle } = harness({ readHealth: health.read, lastKnownHealth });
    const reply = one(await handle({ provider_id: "p0" }));
    expect(reply).toMatchObject({
      provider_id: "p0",
      request_count: 7,
      error_count: 1,
      last_error: "upstream_timeout",
      rate_limit_status: "OK",
      stale: true,
      stale_age_ms: 4_000,
    });
    expect(lastKnownHealth).toHaveBeenCalledWith("p0");
  });

  it("says null for the age when this worker never read the provider", async () => {
    const { handle } = harness({ readHealth: manualRead<HealthSnapshot>().read });
    expect(one(await handle({ provider_id: "p0" }))).toMatchObject({
      request_count: 0,
      stale: true,
      stale_age_ms: null,
    });
  });

  it("answers at once from the last known when the read fails", async () => {
    vi.useFakeTimers({ now: T0 });
    const { handle } = harness({
      readHealth: () => Promise.reject(new Error("JetStream not enabled")),
      lastKnownHealth: () => ({ snapshot: snapshot(3), readAt: T0 - 250 }),
    });
    // No timer has to run: a failed read is not waited for.
    expect(one(await handle({ provider_id: "p0" }))).toMatchObject({
      request_count: 3,
      stale: true,
      stale_age_ms: 250,
    });
  });

  it("joins a read already out instead of sending another, and asks again once it is presumed lost", async () => {
    const health = manualRead<HealthSnapshot>();
    const { handle, clock } = harness({ readHealth: health.read });
    await handle({ provider_id: "p0" });
    clock.now += REREAD_AFTER_MS - 1;
    await handle({ provider_id: "p0" });
    await handle();
    expect(health.read).toHaveBeenCalledTimes(1);
    clock.now += 1;
    await handle({ provider_id: "p0" });
    expect(health.read).toHaveBeenCalledTimes(2);
    // A read that answers within the wait makes the answer fresh again.
    const answered = handle({ provider_id: "p0" });
    health.calls[1]!.resolve(snapshot(12));
    const reply = one(await answered);
    expect(reply.request_count).toBe(12);
    expect(reply).not.toHaveProperty("stale");
    // …and the next query sends a new read (nothing is out).
    await handle({ provider_id: "p0" });
    expect(health.read).toHaveBeenCalledTimes(3);
  });

  it("keeps the last rate-limit status it read, and says how old it is", async () => {
    const budget = manualRead<RateLimitStatus>();
    const { handle, clock } = harness({ rateLimitStatus: budget.read });
    // Never read: nothing says the budget is spent.
    expect(one(await handle({ provider_id: "p0" }))).toMatchObject({
      rate_limit_status: "OK",
      stale: true,
      stale_age_ms: null,
    });
    // The read answers after the query gave up on it: known from then on.
    budget.calls[0]!.resolve("THROTTLED");
    await afterMicrotasks();
    clock.now += 1_500;
    const later = handle({ provider_id: "p0" }); // a new read: none is out
    expect(budget.read).toHaveBeenCalledTimes(2);
    expect(one(await later)).toMatchObject({
      rate_limit_status: "THROTTLED",
      stale: true,
      stale_age_ms: 1_500,
    });
    // Fresh again once a read answers in time.
    const fresh = handle({ provider_id: "p0" });
    budget.calls[1]!.resolve("BLOCKED");
    const reply = one(await fresh);
    expect(reply.rate_limit_status).toBe("BLOCKED");
    expect(reply).not.toHaveProperty("stale");
  });

  it("gives a provider the age of its oldest stale part", async () => {
    const { handle } = harness({
      readHealth: manualRead<HealthSnapshot>().read,
      lastKnownHealth: () => ({ snapshot: snapshot(2), readAt: T0 - 900 }),
      rateLimitStatus: () => Promise.reject(new Error("timeout")),
    });
    // The budget was never read: its age (none) is the oldest.
    expect(one(await handle({ provider_id: "p0" }))).toMatchObject({ stale: true, stale_age_ms: null });
  });

  it("still reports a provider this worker cannot call as BLOCKED and unhealthy", async () => {
    const { handle } = harness({
      readHealth: manualRead<HealthSnapshot>().read,
      lastKnownHealth: () => ({ snapshot: snapshot(5), readAt: T0 - 100 }),
      isProviderAvailable: () => false,
    });
    expect(one(await handle({ provider_id: "p0" }))).toMatchObject({
      is_healthy: false,
      health_score: 0,
      rate_limit_status: "BLOCKED",
      stale: true,
      stale_age_ms: 100,
    });
  });
});

describe("the aggregate when shared state does not answer in time", () => {
  it("waits once for all providers, not once per provider", async () => {
    vi.useFakeTimers({ now: T0 });
    const ids = ["p0", "p1", "p2", "p3", "p4"];
    const { handle } = harness({
      ids,
      readHealth: manualRead<HealthSnapshot>().read,
      rateLimitStatus: manualRead<RateLimitStatus>().read,
      now: Date.now,
    });
    let reply: AggregateHealth | undefined;
    void handle().then((answer) => (reply = aggregate(answer)));
    await vi.advanceTimersByTimeAsync(WAIT_MS);
    expect(reply?.providers.map((provider) => provider.provider_id)).toEqual(ids);
    expect(reply?.providers.every((provider) => provider.stale === true)).toBe(true);
  });

  it("is stale when any provider is, with the oldest age", async () => {
    const { handle } = harness({
      ids: ["p0", "p1", "p2"],
      readHealth: (id) =>
        id === "p0" ? Promise.resolve(snapshot(4)) : manualRead<HealthSnapshot>().read(id),
      lastKnownHealth: (id) => ({ snapshot: snapshot(1), readAt: id === "p1" ? T0 - 3_000 : T0 - 8_000 }),
    });
    const reply = aggregate(await handle());
    expect(
      reply.providers.map((provider) => [provider.provider_id, provider.stale, provider.stale_age_ms]),
    ).toEqual([
      ["p0", undefined, undefined],
      ["p1", true, 3_000],
      ["p2", true, 8_000],
    ]);
    expect(reply).toMatchObject({ stale: true, stale_age_ms: 8_000 });
    expect(reply.fallback_chains[0]?.status).toBe("healthy");
  });

  it("says null for the aggregate's age when any provider's is null", async () => {
    const { handle } = harness({
      ids: ["p0", "p1"],
      readHealth: manualRead<HealthSnapshot>().read,
      lastKnownHealth: (id) => ({ snapshot: snapshot(1), readAt: id === "p0" ? T0 - 3_000 : null }),
    });
    expect(aggregate(await handle())).toMatchObject({ stale: true, stale_age_ms: null });
  });
});
