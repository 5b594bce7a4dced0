// Several workers, one cache: what one computed the others serve, identical requests at the same
// moment reach the provider once, and claims left behind by a crashed worker do not block anyone.
import { Kvm } from "@nats-io/kv";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { encodeClaim } from "../../services/llm-provider/src/infra/kv/embedding-cache/embedding-cache-value.js";
import { fakeEmbedding, startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import {
  cacheKey,
  embeddingConfig,
  purgeCache,
  readCacheEntry,
  TEST_BUCKET,
  upstreamInputs,
  waitForCachedVector,
} from "../support/embeddings.js";
import { startTestService, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { embeddingValues } from "../harness/embedding-values.js";

const CLAIM_TIMEOUT_MS = 1_500;
const WAIT_TIMEOUT_MS = 5_000;

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
/** Two workers of one queue group, as two processes would be. */
let workers: TestService[] = [];

const startWorker = (cache: Parameters<typeof embeddingConfig>[2] = {}) =>
  startTestService(
    embeddingConfig(nats.url, upstream.baseUrl, {
      claim_timeout_ms: CLAIM_TIMEOUT_MS,
      wait_timeout_ms: WAIT_TIMEOUT_MS,
      ...cache,
    }),
  );

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
});

afterAll(async () => {
  await upstream?.close();
  await nats?.stop();
});

beforeEach(async () => {
  workers = [await startWorker(), await startWorker()];
  upstream.reset();
  await purgeCache(workers[0]!.nc);
});

afterEach(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
});

const expected = (text: string) => fakeEmbedding(text, 8);

async function putClaim(key: string, claimedAt: number): Promise<void> {
  const kv = await new Kvm(workers[0]!.nc).open(TEST_BUCKET);
  await kv.create(key, encodeClaim(claimedAt, "crashed-worker:1"));
}

describe("embedding cache shared by workers", () => {
  it("what one worker computed, another serves from the cache", async () => {
    const [first, second] = workers as [TestService, TestService];
    await second.app.stop(1_000); // only the first worker is up: it takes the request
    await first.client.generateEmbedding({ model: "embed", input: ["shared one", "shared two"] });
    expect(upstream.requests).toHaveLength(1);

    await first.app.stop(1_000);
    const third = await startWorker(); // a fresh process: nothing in memory
    workers.push(third);
    const result = await third.client.generateEmbedding({
      model: "embed",
      input: ["shared two", "shared one"],
    });
    expect(result.data.map((item) => item.cached)).toEqual([true, true]);
    expect(result.data.map((item) => embeddingValues(item.embedding))).toEqual([
      expected("shared two"),
      expected("shared one"),
    ]);
    expect(upstream.requests).toHaveLength(1);
  });

  it("identical requests at the same moment, across workers, reach the provider once", async () => {
    upstream.enqueue({ kind: "delay", ms: 300 });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        workers[index % 2]!.client.generateEmbedding({ model: "embed", input: "at the same moment" }),
      ),
    );
    expect(upstreamInputs(upstream.requests)).toEqual([["at the same moment"]]);
    for (const result of results)
      expect(embeddingValues(result.data[0]!.embedding)).toEqual(expected("at the same moment"));
    expect(results.filter((result) => !result.data[0]!.cached)).toHaveLength(1);
  });

  it("overlapping batches at the same moment send every text upstream once, without stalling each other", async () => {
    upstream.enqueue({ kind: "delay", ms: 200 }, { kind: "delay", ms: 200 });
    const started = performance.now();
    const [left, right] = await Promise.all([
      workers[0]!.client.generateEmbedding({ model: "embed", input: ["a", "b", "c"] }),
      workers[1]!.client.generateEmbedding({ model: "embed", input: ["c", "b", "d"] }),
    ]);
    expect(performance.now() - started).toBeLessThan(WAIT_TIMEOUT_MS);
    expect(upstreamInputs(upstream.requests).flat().sort()).toEqual(["a", "b", "c", "d"]);
    expect(left.data.map((item) => embeddingValues(item.embedding))).toEqual(["a", "b", "c"].map(expected));
    expect(right.data.map((item) => embeddingValues(item.embedding))).toEqual(["c", "b", "d"].map(expected));
  });
});

describe("each worker's memory tier", () => {
  it("answers a worker's recent vectors without the bucket, and says they are cached", async () => {
    const [first, second] = workers as [TestService, TestService];
    await second.app.stop(1_000);
    await first.client.generateEmbedding({ model: "embed", input: "hot query" });
    await waitForCachedVector(first.nc, cacheKey("hot query"));
    await purgeCache(first.nc); // the bucket forgets; the worker's memory does not
    const again = await first.client.generateEmbedding({ model: "embed", input: "hot query" });
    expect(again.data[0]!.cached).toBe(true);
    expect(embeddingValues(again.data[0]!.embedding)).toEqual(expected("hot query"));
    expect(upstream.requests).toHaveLength(1);
  });
});

describe("claims left by a crashed worker", () => {
  it("an abandoned claim (older than claim_timeout_ms) is taken over at once", async () => {
    await putClaim(cacheKey("orphan"), Date.now() - CLAIM_TIMEOUT_MS - 1_000);
    const result = await workers[0]!.client.generateEmbedding({ model: "embed", input: "orphan" });
    expect(result.data[0]!.cached).toBe(false);
    expect(embeddingValues(result.data[0]!.embedding)).toEqual(expected("orphan"));
    expect(upstream.requests).toHaveLength(1);
    expect(await waitForCachedVector(workers[0]!.nc, cacheKey("orphan"))).toMatchObject({ kind: "vector" });
  });

  it("a fresh claim is waited for until it expires, then taken over and filled", async () => {
    const claimedAt = Date.now();
    await putClaim(cacheKey("crashed mid-call"), claimedAt);
    const result = await workers[0]!.client.generateEmbedding({ model: "embed", input: "crashed mid-call" });
    expect(Date.now()).toBeGreaterThanOrEqual(claimedAt + CLAIM_TIMEOUT_MS);
    expect(result.data[0]!.cached).toBe(false);
    expect(embeddingValues(result.data[0]!.embedding)).toEqual(expected("crashed mid-call"));
    expect(upstream.requests).toHaveLength(1);
    expect(await waitForCachedVector(workers[0]!.nc, cacheKey("crashed mid-call"))).toMatchObject({
      kind: "vector",
    });
  });

  it("waiting is bounded: past wait_timeout_ms the request computes without storing", async () => {
    const impatient = await startWorker({ claim_timeout_ms: 60_000, wait_timeout_ms: 300 });
    workers.push(impatient);
    await Promise.all(workers.slice(0, 2).map((worker) => worker.app.stop(1_000)));
    await putClaim(cacheKey("held elsewhere"), Date.now());
    const started = performance.now();
    const result = await impatient.client.generateEmbedding({ model: "embed", input: "held elsewhere" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(result.data[0]!.cached).toBe(false);
    expect(embeddingValues(result.data[0]!.embedding)).toEqual(expected("held elsewhere"));
    expect(await readCacheEntry(impatient.nc, cacheKey("held elsewhere"))).toMatchObject({
      kind: "claim",
      owner: "crashed-worker:1",
    });
  });

  it("a released claim (the holder's provider failed) lets a waiting request claim and compute", async () => {
    upstream.enqueue({ kind: "delay", ms: 200, then: { kind: "error", status: 400, message: "refused" } });
    const [failed, waited] = await Promise.allSettled([
      workers[0]!.client.generateEmbedding({ model: "embed", input: "released" }),
      new Promise((resolve) => setTimeout(resolve, 50)).then(() =>
        workers[1]!.client.generateEmbedding({ model: "embed", input: "released" }),
      ),
    ]);
    expect(failed).toMatchObject({ status: "rejected", reason: { code: "upstream_bad_request" } });
    expect(waited).toMatchObject({ status: "fulfilled" });
    if (waited.status === "fulfilled")
      expect(embeddingValues(waited.value.data[0]!.embedding)).toEqual(expected("released"));
    expect(upstream.requests).toHaveLength(2);
    expect(await waitForCachedVector(workers[0]!.nc, cacheKey("released"))).toMatchObject({ kind: "vector" });
  });
});
