import type { Attempt } from "@llm-provider/contracts";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { HealthSnapshot } from "../../domain/provider-health.js";
import type { KvEntry } from "./kv-bucket-reader.js";
import { createHealthCache } from "./kv-health-cache.js";
import type { HealthCache, HealthCacheStore } from "./kv-health-cache.js";
import { toKvToken } from "./kv-token.js";

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const encoder = new TextEncoder();

/**
 * The bucket as a map: `entries` answers from it, unless the test holds the answers back
 * (`hold`), to answer them by hand later (`answer`, `fail`) — a bucket without a leader.
 */
function fakeStore() {
  const values = new Map<string, string>();
  const held: { pattern: string; resolve: (entries: KvEntry[]) => void; reject: (error: Error) => void }[] =
    [];
  let holding = false;
  const matching = (pattern: string): KvEntry[] => {
    const prefix = pattern.slice(0, -1); // `<provider>.*`
    return [...values]
      .filter(([key]) => key.startsWith(prefix) && !key.slice(prefix.length).includes("."))
      .map(([key, value], index) => ({ key, revision: index + 1, value: encoder.encode(value) }));
  };
  const store: HealthCacheStore = {
    put(key, value) {
      values.set(key, value);
      return Promise.resolve();
    },
    entries(pattern) {
      if (!holding) return Promise.resolve(matching(pattern));
      return new Promise((resolve, reject) => held.push({ pattern, resolve, reject }));
    },
    close() {},
  };
  return {
    store,
    values,
    hold: (on: boolean) => (holding = on),
    /** Answers the `index`-th held read with what the bucket holds now. */
    answer: (index: number) => held[index]!.resolve(matching(held[index]!.pattern)),
    fail: (index: number) => held[index]!.reject(new Error("no KV answer within 5000 ms")),
  };
}

function snapshot(requests: number, errors = 0, at = T0 - 10_000): HealthSnapshot {
  return {
    requests,
    errors,
    latencySumMs: requests * 100,
    lastError: errors > 0 ? "upstream_error" : null,
    lastErrorAt: errors > 0 ? at : null,
    lastSuccessAt: requests > errors ? at : null,
    rateLimitedAt: null,
  };
}

const attempts = (providerId: string, ok: number, failed: number): Attempt[] => [
  ...Array.from({ length: ok }, () => ({
    provider_id: providerId,
    model: "m",
    outcome: "success" as const,
    latency_ms: 10,
  })),
  ...Array.from({ length: failed }, () => ({
    provider_id: providerId,
    model: "m",
    outcome: "error" as const,
    error_code: "upstream_timeout",
    latency_ms: 20,
  })),
];

const key = (providerId: string, workerId: string) => `${toKvToken(providerId)}.${workerId}`;

const caches: HealthCache[] = [];
afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.close();
});

function cacheOn(store: HealthCacheStore, clock: { now: number }, workerId = "me"): HealthCache {
  const cache = createHealthCache({
    store,
    workerId,
    windowMs: 60_000,
    flushIntervalMs: 3_600_000, // no flush during a test (close() writes)
    ttlMs: 7_200_000,
    logger: pino({ level: "silent" }),
    now: () => clock.now,
  });
  caches.push(cache);
  return cache;
}

describe("the health cache's last known state", () => {
  it("is this worker's own window, never read, before any read of the bucket", () => {
    const { store } = fakeStore();
    const cache = cacheOn(store, { now: T0 });
    expect(cache.lastKnown("p0")).toEqual({
      snapshot: expect.objectContaining({ requests: 0 }),
      readAt: null,
    });
    cache.recordAttempts(attempts("p0", 3, 1));
    expect(cache.lastKnown("p0")).toMatchObject({
      snapshot: { requests: 4, errors: 1, lastError: "upstream_timeout", lastSuccessAt: T0 },
      readAt: null,
    });
  });

  it("is the other workers' entries as last read, with this worker's window as it is now", async () => {
    const bucket = fakeStore();
    const clock = { now: T0 };
    const cache = cacheOn(bucket.store, clock);
    bucket.values.set(key("p0", "w1"), JSON.stringify(snapshot(5, 1)));
    bucket.values.set(key("p0", "w2"), JSON.stringify(snapshot(2)));
    bucket.values.set(key("p0", "me"), JSON.stringify(snapshot(1))); // what this worker wrote earlier
    bucket.values.set(key("p1", "w1"), JSON.stringify(snapshot(100)));
    expect(await cache.read("p0")).toMatchObject({ requests: 8, errors: 1 });

    cache.recordAttempts(attempts("p0", 4, 0)); // after its last write: only the window knows
    clock.now += 2_500;
    expect(cache.lastKnown("p0")).toMatchObject({
      // w1 5 + w2 2 + own window 4 (not the 1 it had written)
      snapshot: { requests: 11, errors: 1, lastError: "upstream_error" },
      readAt: T0,
    });
    // Another provider, never read: only the own window (none here).
    expect(cache.lastKnown("p1")).toMatchObject({ snapshot: { requests: 0 }, readAt: null });
  });

  it("stays as it was while reads fail or do not answer", async () => {
    const bucket = fakeStore();
    const clock = { now: T0 };
    const cache = cacheOn(bucket.store, clock);
    bucket.values.set(key("p0", "w1"), JSON.stringify(snapshot(5)));
    await cache.read("p0");
    bucket.values.set(key("p0", "w1"), JSON.stringify(snapshot(50)));
    bucket.hold(true);
    clock.now += 1_000;
    const failing = cache.read("p0");
    const hanging = cache.read("p0");
    bucket.fail(0);
    await expect(failing).rejects.toThrow("no KV answer");
    void hanging.catch(() => undefined);
    clock.now += 1_000;
    expect(cache.lastKnown("p0")).toMatchObject({ snapshot: { requests: 5 }, readAt: T0 });
  });

  it("follows the read sent last when reads overlap, whichever answers last", async () => {
    const bucket = fakeStore();
    const clock = { now: T0 };
    const cache = cacheOn(bucket.store, clock);
    bucket.hold(true);
    bucket.values.set(key("p0", "w1"), JSON.stringify(snapshot(5)));
    const early = cache.read("p0"); // presumed lost by its caller, answers late
    clock.now += 1_000;
    bucket.values.set(key("p0", "w1"), JSON.stringify(snapshot(9)));
    const late = cache.read("p0");
    bucket.answer(1);
    await late;
    clock.now += 1_000;
    bucket.values.set(key("p0", "w1"), JSON.stringify(snapshot(1)));
    bucket.answer(0); // reads the bucket now, but was sent first
    await early;
    expect(cache.lastKnown("p0")).toMatchObject({ snapshot: { requests: 9 }, readAt: T0 + 1_000 });
  });

  it("forgets a worker whose entry the next read no longer finds (expired)", async () => {
    const bucket = fakeStore();
    const clock = { now: T0 };
    const cache = cacheOn(bucket.store, clock);
    bucket.values.set(key("p0", "w1"), JSON.stringify(snapshot(5)));
    bucket.values.set(key("p0", "w2"), JSON.stringify(snapshot(3)));
    await cache.read("p0");
    bucket.values.delete(key("p0", "w2"));
    clock.now += 5_000;
    await cache.read("p0");
    expect(cache.lastKnown("p0")).toMatchObject({ snapshot: { requests: 5 }, readAt: T0 + 5_000 });
  });

  it("leaves out entries that are no snapshot, as the read does", async () => {
    const bucket = fakeStore();
    const cache = cacheOn(bucket.store, { now: T0 });
    bucket.values.set(key("p0", "w1"), JSON.stringify(snapshot(5)));
    bucket.values.set(key("p0", "w-foreign"), "not json");
    bucket.values.set(key("p0", "w-shape"), JSON.stringify({ requests: "many" }));
    expect(await cache.read("p0")).toMatchObject({ requests: 5 });
    expect(cache.lastKnown("p0").snapshot).toMatchObject({ requests: 5 });
  });

  it("writes this worker's window under its own key", async () => {
    const bucket = fakeStore();
    const cache = cacheOn(bucket.store, { now: T0 }, "w9");
    cache.recordAttempts(attempts("p0", 2, 1));
    await cache.close();
    caches.splice(caches.indexOf(cache), 1);
    expect(JSON.parse(bucket.values.get(key("p0", "w9"))!)).toMatchObject({ requests: 3, errors: 1 });
  });
});

describe("calls in flight", () => {
  it("are this worker's live count plus the others' as written, and are written with the next flush", async () => {
    const bucket = fakeStore();
    const clock = { now: T0 };
    const mine = cacheOn(bucket.store, clock, "me");
    const other = cacheOn(bucket.store, clock, "w1");
    for (let call = 0; call < 5; call++) other.callStarted("p0");
    other.callEnded("p0");
    await other.close(); // writes its entry: 4 in flight
    expect(JSON.parse(bucket.values.get(key("p0", "w1"))!)).toMatchObject({ inFlight: 4 });

    mine.callStarted("p0");
    expect(mine.lastKnown("p0").snapshot.inFlight).toBe(1); // not read yet: its own only
    await mine.read("p0");
    expect(mine.lastKnown("p0").snapshot.inFlight).toBe(5);
    mine.callEnded("p0");
    expect(mine.lastKnown("p0").snapshot.inFlight).toBe(4);
  });
});
