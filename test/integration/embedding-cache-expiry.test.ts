// The bucket's TTL is the cache's expiry: an entry older than `ttl_ms` is gone, and the next
// request for it goes upstream again.
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { cacheKey, embeddingConfig, readCacheEntry } from "../support/embeddings.js";
import { startTestService, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";

const TTL_MS = 1_000;
const BUCKET = "short_lived_embeddings";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  service = await startTestService(
    embeddingConfig(nats.url, upstream.baseUrl, { bucket: BUCKET, ttl_ms: TTL_MS, claim_timeout_ms: 500 }),
  );
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

async function waitUntilGone(key: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await readCacheEntry(service.nc, key, BUCKET)) !== "none") {
    if (Date.now() > until) throw new Error(`entry ${key} still there after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("cache expiry", () => {
  it("uses the configured TTL as the bucket's max age", async () => {
    const jsm = await jetstreamManager(service.nc);
    const { config } = await jsm.streams.info(`KV_${BUCKET}`);
    expect(config.max_age).toBe(TTL_MS * 1_000_000);
  });

  it("an entry is a hit until its TTL passes, then a miss again", async () => {
    const first = await service.client.generateEmbedding({ model: "embed", input: "short-lived" });
    const second = await service.client.generateEmbedding({ model: "embed", input: "short-lived" });
    expect([first.data[0]!.cached, second.data[0]!.cached]).toEqual([false, true]);
    expect(upstream.requests).toHaveLength(1);

    await waitUntilGone(cacheKey("short-lived"), TTL_MS * 5);
    const afterExpiry = await service.client.generateEmbedding({ model: "embed", input: "short-lived" });
    expect(afterExpiry.data[0]!.cached).toBe(false);
    expect(afterExpiry.data[0]!.embedding).toEqual(first.data[0]!.embedding);
    expect(upstream.requests).toHaveLength(2);
  });

  it("a restarted worker brings an existing bucket to the configured TTL", async () => {
    const longer = await startTestService(
      embeddingConfig(nats.url, upstream.baseUrl, {
        bucket: BUCKET,
        ttl_ms: TTL_MS * 60,
        claim_timeout_ms: 500,
      }),
    );
    try {
      const jsm = await jetstreamManager(service.nc);
      const { config } = await jsm.streams.info(`KV_${BUCKET}`);
      expect(config.max_age).toBe(TTL_MS * 60 * 1_000_000);
    } finally {
      await longer.stop();
    }
  });
});
