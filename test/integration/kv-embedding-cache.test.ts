// The claim protocol of the KV embedding cache at its port, against a real nats-server, for both
// orders of lookup and claim: every scenario must come out the same.
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EmbeddingCacheConfig } from "../../services/llm-provider/src/config/schema.js";
import type { CacheSlot, CachedEmbedding } from "../../services/llm-provider/src/ports/embedding-cache.js";
import { encodeClaim } from "../../services/llm-provider/src/infra/kv/embedding-cache/embedding-cache-value.js";
import { ensureKvBucket } from "../../services/llm-provider/src/infra/kv/ensure-kv-bucket.js";
import { embeddingCacheBucketSpec } from "../../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import { createKvEmbeddingCache } from "../../services/llm-provider/src/infra/kv/embedding-cache/kv-embedding-cache.js";
import type { KvEmbeddingCache } from "../../services/llm-provider/src/infra/kv/embedding-cache/kv-embedding-cache.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { purgeCache, readCacheEntry } from "../support/embeddings.js";

const BUCKET = "protocol_embeddings";
const CLAIM_TIMEOUT_MS = 60_000;
const config: EmbeddingCacheConfig = {
  enabled: true,
  bucket: BUCKET,
  ttl_ms: 3_600_000,
  replicas: 1,
  claim_timeout_ms: CLAIM_TIMEOUT_MS,
  wait_timeout_ms: 5_000,
  operation_timeout_ms: 2_000,
  memory_max_bytes: 0,
  scope: "shared",
};
const silent = pino({ level: "silent" });

let nats: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  await ensureKvBucket(nc, embeddingCacheBucketSpec(config));
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

beforeEach(() => purgeCache(nc, BUCKET));

const request = () => ({ deadline: performance.now() + 10_000, signal: new AbortController().signal });
const embedding = (seed: number): CachedEmbedding => ({
  vector: new Float32Array([seed, seed / 2, -seed]),
  model: "embed",
  providerId: "p0",
  createdAt: 1_767_225_600_000 + seed,
});
const settle = async (slot: CacheSlot) => (slot.kind === "pending" ? await slot.settled : slot);

describe.each(["read-first", "claim-first"] as const)("KV embedding cache, %s", (lookup) => {
  let clock = Date.now();
  const open = (owner: string): KvEmbeddingCache =>
    createKvEmbeddingCache(nc, config, silent, { owner, lookup, now: () => clock });

  it("claims an absent key; its vector, once filled, is a hit for everyone", async () => {
    const [a, b] = [open("a"), open("b")];
    const [slot] = await a.acquire(["k1"], request());
    expect(slot).toMatchObject({ kind: "claimed", claim: { key: "k1" } });
    if (slot?.kind !== "claimed") throw new Error("not claimed");
    await a.fill([{ claim: slot.claim, embedding: embedding(1) }]);
    const [hit] = await b.acquire(["k1"], request());
    expect(hit).toEqual({ kind: "hit", embedding: embedding(1) });
  });

  it("a released claim leaves a deletion marker that the next request claims", async () => {
    const cache = open("a");
    const [first] = await cache.acquire(["k2"], request());
    if (first?.kind !== "claimed") throw new Error("not claimed");
    await cache.release([first.claim]);
    expect(await readCacheEntry(nc, "k2", BUCKET)).toBe("deleted");
    const [again] = await cache.acquire(["k2"], request());
    expect(again).toMatchObject({ kind: "claimed" });
    expect(again?.kind === "claimed" && again.claim.revision).toBeGreaterThan(first.claim.revision);
  });

  it("a fresh claim is waited for; the vector its holder stores settles it as a hit", async () => {
    const [holder, waiter] = [open("holder"), open("waiter")];
    const [held] = await holder.acquire(["k3"], request());
    if (held?.kind !== "claimed") throw new Error("not claimed");
    const [pending] = await waiter.acquire(["k3"], request());
    expect(pending?.kind).toBe("pending");
    setTimeout(() => void holder.fill([{ claim: held.claim, embedding: embedding(3) }]), 50);
    expect(await settle(pending!)).toEqual({ kind: "hit", embedding: embedding(3) });
  });

  it("a fresh claim released by its holder is claimed by the waiter", async () => {
    const [holder, waiter] = [open("holder"), open("waiter")];
    const [held] = await holder.acquire(["k4"], request());
    if (held?.kind !== "claimed") throw new Error("not claimed");
    const [pending] = await waiter.acquire(["k4"], request());
    setTimeout(() => void holder.release([held.claim]), 50);
    expect(await settle(pending!)).toMatchObject({ kind: "claimed", claim: { key: "k4" } });
  });

  it("an abandoned claim is taken over; the old holder's late write is refused, the new one's stored", async () => {
    const [crashed, successor] = [open("crashed"), open("successor")];
    const [stale] = await crashed.acquire(["k5"], request());
    if (stale?.kind !== "claimed") throw new Error("not claimed");
    clock += CLAIM_TIMEOUT_MS + 1;
    const [taken] = await successor.acquire(["k5"], request());
    if (taken?.kind !== "claimed") throw new Error("not taken over");
    await crashed.fill([{ claim: stale.claim, embedding: embedding(50) }]);
    expect(await readCacheEntry(nc, "k5", BUCKET)).toMatchObject({ kind: "claim", owner: "successor" });
    await successor.fill([{ claim: taken.claim, embedding: embedding(5) }]);
    expect(await readCacheEntry(nc, "k5", BUCKET)).toMatchObject({
      kind: "vector",
      createdAt: embedding(5).createdAt,
    });
  });

  it("of many requests claiming one key at once, exactly one wins", async () => {
    const caches = Array.from({ length: 6 }, (_, index) => open(`worker-${index}`));
    const slots = (await Promise.all(caches.map((cache) => cache.acquire(["k6"], request())))).map(
      (s) => s[0]!,
    );
    expect(slots.filter((slot) => slot.kind === "claimed")).toHaveLength(1);
    expect(slots.filter((slot) => slot.kind === "pending")).toHaveLength(5);
    const winner = caches[slots.findIndex((slot) => slot.kind === "claimed")]!;
    const claimed = slots.find((slot) => slot.kind === "claimed");
    if (claimed?.kind !== "claimed") throw new Error("no winner");
    await winner.fill([{ claim: claimed.claim, embedding: embedding(6) }]);
    for (const slot of slots.filter((s) => s.kind === "pending")) {
      expect(await settle(slot)).toEqual({ kind: "hit", embedding: embedding(6) });
    }
  });

  it("a key holding something this version cannot read is claimed over", async () => {
    const kv = await new Kvm(nc).open(BUCKET);
    await kv.put("k7", new TextEncoder().encode('{"not":"ours"}'));
    const [slot] = await open("a").acquire(["k7"], request());
    expect(slot?.kind).toBe("claimed");
  });

  it("an aborted request stops waiting at once", async () => {
    const kv = await new Kvm(nc).open(BUCKET);
    await kv.put("k8", encodeClaim(clock, "someone"));
    const controller = new AbortController();
    const [pending] = await open("a").acquire(["k8"], {
      deadline: performance.now() + 10_000,
      signal: controller.signal,
    });
    controller.abort();
    expect(await settle(pending!)).toEqual({ kind: "uncached" });
  });
});

describe("KV embedding cache without its bucket", () => {
  it("degrades to uncached instead of failing the request", async () => {
    const cache = createKvEmbeddingCache(
      nc,
      { ...config, bucket: "no_such_bucket", operation_timeout_ms: 2_000 },
      silent,
    );
    expect(await cache.acquire(["a", "b"], request())).toEqual([{ kind: "uncached" }, { kind: "uncached" }]);
    await cache.release([{ key: "a", revision: 1 }]);
    // Then it leaves the bucket alone for a while rather than making every request wait it out.
    const started = performance.now();
    expect(await cache.acquire(["c"], request())).toEqual([{ kind: "uncached" }]);
    expect(performance.now() - started).toBeLessThan(1_000); // the operation timeout is 2 s
    cache.close();
  });
});

describe("KV embedding cache, vectors at hand", () => {
  it("peekAll answers only when every key is in this worker's memory, never from the bucket", async () => {
    // Memory keeps a copy only until the bucket's TTL would drop it: a fresh vector.
    const fresh = { ...embedding(7), createdAt: Date.now() };
    const cache = createKvEmbeddingCache(nc, { ...config, memory_max_bytes: 1 << 20 }, silent);
    const [slot] = await cache.acquire(["m1"], request());
    if (slot?.kind !== "claimed") throw new Error("not claimed");
    await cache.fill([{ claim: slot.claim, embedding: fresh }]);
    expect(cache.peekAll!(["m1"])).toEqual([fresh]);
    expect(cache.peekAll!(["m1", "m2"])).toBeUndefined();
    // Another worker finds the vector in the bucket, but has not got it at hand.
    const other = createKvEmbeddingCache(nc, { ...config, memory_max_bytes: 1 << 20 }, silent);
    expect(other.peekAll!(["m1"])).toBeUndefined();
    expect(await other.acquire(["m1"], request())).toEqual([{ kind: "hit", embedding: fresh }]);
    expect(other.peekAll!(["m1"])).toEqual([fresh]);
    // Without a memory tier nothing is ever at hand.
    const bare = createKvEmbeddingCache(nc, config, silent);
    expect(bare.peekAll!(["m1"])).toBeUndefined();
    for (const each of [cache, other, bare]) each.close();
  });
});

describe("KV embedding cache, closed", () => {
  it("ends the waits under way and leaves the bucket alone afterwards", async () => {
    const kv = await new Kvm(nc).open(BUCKET);
    await kv.put("c1", encodeClaim(Date.now(), "someone"));
    const cache = createKvEmbeddingCache(nc, config, silent);
    const [pending] = await cache.acquire(["c1"], request());
    expect(pending?.kind).toBe("pending");
    cache.close();
    expect(await settle(pending!)).toEqual({ kind: "uncached" });
    expect(await cache.acquire(["c2"], request())).toEqual([{ kind: "uncached" }]);
    expect(await readCacheEntry(nc, "c2", BUCKET)).toBe("none");
  });
});
