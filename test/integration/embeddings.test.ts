import { jetstreamManager } from "@nats-io/jetstream";
import { EmbeddingGeneratedSchema, SUBJECTS } from "@llm-provider/contracts";
import type { EmbeddingResult } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fakeEmbedding, startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import {
  cacheKey,
  embeddingConfig,
  FAKE_NATIVE_DIMENSIONS,
  purgeCache,
  readAllCacheEntries,
  readCacheEntry,
  TEST_BUCKET,
  upstreamInputs,
  waitForCachedVector,
} from "../support/embeddings.js";
import { purgeEvents, waitForEvents } from "../support/events.js";
import { startTestService, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { embeddingValues } from "../harness/embedding-values.js";
import { refusalOf } from "../support/refusal.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  // Without the memory tier, so that every lookup here goes through the bucket.
  service = await startTestService(embeddingConfig(nats.url, upstream.baseUrl, { memory_max_bytes: 0 }));
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

beforeEach(async () => {
  upstream.reset();
  await purgeCache(service.nc);
});

const vectorsOf = (result: EmbeddingResult) => result.data.map((item) => embeddingValues(item.embedding));
const expected = (text: string, dimensions = FAKE_NATIVE_DIMENSIONS) => fakeEmbedding(text, dimensions);

describe("generate_embedding: cache misses and hits", () => {
  it("a miss goes upstream once and is stored; the same input again is a hit that costs nothing", async () => {
    const miss = await service.client.generateEmbedding({ model: "embed", input: "the quick brown fox" });
    expect(miss).toMatchObject({
      model: "embed",
      provider_id: "p0",
      data: [
        {
          index: 0,
          dimensions: 8,
          input_ref: cacheKey("the quick brown fox"),
          model: "embed",
          cached: false,
        },
      ],
      usage: {
        prompt_tokens: 5,
        total_tokens: 5,
        cost: { currency: "USD", input: 0.0001, output: 0, total: 0.0001 },
      },
    });
    expect(vectorsOf(miss)).toEqual([expected("the quick brown fox")]);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]!.body).toEqual({
      model: "text-embedding-3-small",
      input: ["the quick brown fox"],
      encoding_format: "base64",
    });

    const hit = await service.client.generateEmbedding({ model: "embed", input: "the quick brown fox" });
    expect(upstream.requests).toHaveLength(1);
    expect(hit.data[0]).toMatchObject({ cached: true, input_ref: miss.data[0]!.input_ref, model: "embed" });
    expect(vectorsOf(hit)).toEqual(vectorsOf(miss));
    expect(hit.usage).toEqual({
      prompt_tokens: 0,
      total_tokens: 0,
      cost: { currency: "USD", input: 0, output: 0, total: 0 },
    });
  });

  it("stores the vector as binary float32 with a small header, not as JSON text", async () => {
    await service.client.generateEmbedding({ model: "embed", input: "stored compactly" });
    const entry = await waitForCachedVector(service.nc, cacheKey("stored compactly"));
    expect(entry).toMatchObject({ kind: "vector", dimensions: 8, model: "embed", providerId: "p0" });
    if (typeof entry === "string" || entry.kind !== "vector") throw new Error("no vector entry");
    expect(entry.vector).toEqual(expected("stored compactly"));
    expect(entry.createdAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it("a batch with partial hits sends only the misses, and answers in input order", async () => {
    await service.client.generateEmbedding({ model: "embed", input: ["beta", "delta"] });
    upstream.reset();
    const texts = ["alpha", "beta", "gamma", "delta", "epsilon"];
    const result = await service.client.generateEmbedding({ model: "embed", input: texts });
    expect(upstreamInputs(upstream.requests)).toEqual([["alpha", "gamma", "epsilon"]]);
    expect(result.data.map((item) => [item.index, item.cached, item.input_ref])).toEqual(
      texts.map((text, index) => [index, index === 1 || index === 3, cacheKey(text)]),
    );
    expect(vectorsOf(result)).toEqual(texts.map((text) => expected(text)));
    // Only the three misses are paid for: ceil(17 characters / 4) tokens.
    expect(result.usage.prompt_tokens).toBe(5);
  });

  it("sends duplicate items of one batch upstream once and answers every position", async () => {
    const result = await service.client.generateEmbedding({ model: "embed", input: ["x", "y", "x", "x"] });
    expect(upstreamInputs(upstream.requests)).toEqual([["x", "y"]]);
    expect(result.data.map((item) => item.input_ref)).toEqual([
      cacheKey("x"),
      cacheKey("y"),
      cacheKey("x"),
      cacheKey("x"),
    ]);
    expect(vectorsOf(result)).toEqual([expected("x"), expected("y"), expected("x"), expected("x")]);
  });

  it("splits the misses into the provider's batch size", async () => {
    const texts = ["one", "two", "three", "four", "five"];
    const result = await service.client.generateEmbedding({ model: "embed-batch-2", input: texts });
    const calls = upstreamInputs(upstream.requests);
    expect(calls.map((call) => call.length).sort()).toEqual([1, 2, 2]);
    expect(calls.flat().sort()).toEqual([...texts].sort());
    expect(vectorsOf(result)).toEqual(texts.map((text) => expected(text)));
  });

  it("answers base64 (little-endian float32) that decodes to the same vectors as the floats", async () => {
    const texts = ["left", "right"];
    const floats = await service.client.generateEmbedding({ model: "embed", input: texts });
    const base64 = await service.client.generateEmbedding({
      model: "embed",
      input: texts,
      encoding_format: "base64",
    });
    expect(base64.data.every((item) => typeof item.embedding === "string" && item.cached)).toBe(true);
    expect(vectorsOf(base64)).toEqual(vectorsOf(floats));
  });

  it("publishes EmbeddingGenerated with input references, never the texts", async () => {
    await purgeEvents(service);
    await service.client.generateEmbedding(
      {
        model: "embed",
        input: ["secret text one", "secret text two", "secret text one"],
        metadata: { tenant: "acme" },
      },
      { requestId: "emb-evt-1" },
    );
    const [stored] = await waitForEvents(service.nc, (events) => events.length === 1);
    expect(stored!.subject).toBe(SUBJECTS.embeddingGeneratedEvent);
    const event = EmbeddingGeneratedSchema.parse(stored!.event);
    expect(event).toMatchObject({
      request_id: "emb-evt-1",
      data: {
        model: "embed",
        provider_id: "p0",
        count: 3,
        cached_count: 0,
        dimensions: 8,
        input_refs: [cacheKey("secret text one"), cacheKey("secret text two"), cacheKey("secret text one")],
        metadata: { tenant: "acme" },
      },
    });
    expect(JSON.stringify(stored!.event)).not.toContain("secret text");
  });
});

describe("generate_embedding: dimensions", () => {
  it("asks the provider for a shorter vector where the model allows it, under its own key", async () => {
    const result = await service.client.generateEmbedding({ model: "embed", input: "short", dimensions: 4 });
    expect(upstream.requests[0]!.body).toMatchObject({ dimensions: 4 });
    expect(result.data[0]).toMatchObject({ dimensions: 4, input_ref: cacheKey("short", "embed", 4) });
    expect(vectorsOf(result)).toEqual([expected("short", 4)]);
    expect(cacheKey("short", "embed", 4)).not.toBe(cacheKey("short"));
  });

  it("naming the native length is the default request, not a different one", async () => {
    await service.client.generateEmbedding({ model: "embed", input: "native" });
    const named = await service.client.generateEmbedding({ model: "embed", input: "native", dimensions: 8 });
    expect(named.data[0]!.cached).toBe(true);
    expect(upstream.requests).toHaveLength(1);
  });

  it("refuses lengths the model cannot give", async () => {
    const fixed = await refusalOf(
      service.client.generateEmbedding({ model: "embed-batch-2", input: "a", dimensions: 4 }),
    );
    expect(fixed).toMatchObject({ code: "unsupported", field: "dimensions" });
    const tooLong = await refusalOf(
      service.client.generateEmbedding({ model: "embed", input: "a", dimensions: 64 }),
    );
    expect(tooLong).toMatchObject({ code: "invalid_request", field: "dimensions" });
    expect(upstream.requests).toHaveLength(0);
  });

  it("a vector of the wrong length is a typed error and nothing is cached", async () => {
    const error = await refusalOf(service.client.generateEmbedding({ model: "embed-16", input: ["p", "q"] }));
    expect(error).toMatchObject({
      code: "dimension_mismatch",
      retryable: false,
      details: { model: "embed-16", provider_id: "p0", expected_dimensions: 16, received_dimensions: 8 },
    });
    for (const text of ["p", "q"]) {
      expect(["none", "deleted"]).toContain(await readCacheEntry(service.nc, cacheKey(text, "embed-16", 16)));
    }
    expect(upstream.requests).toHaveLength(1);
  });
});

describe("generate_embedding: bad input never reaches a provider", () => {
  it("an empty item is POL-LLM-004 naming the item", async () => {
    const error = await refusalOf(
      service.client.generateEmbedding({ model: "embed", input: ["fine", "  ", "fine too"] }),
    );
    expect(error).toMatchObject({ code: "invalid_request", field: "input[1]", policy: "POL-LLM-004" });
    const single = await refusalOf(service.client.generateEmbedding({ model: "embed", input: "" }));
    expect(single).toMatchObject({ code: "invalid_request", field: "input", policy: "POL-LLM-004" });
    const none = await refusalOf(service.client.generateEmbedding({ model: "embed", input: [] }));
    expect(none).toMatchObject({ field: "input", policy: "POL-LLM-004" });
    expect(upstream.requests).toHaveLength(0);
  });

  it("POL-LLM-004 comes before the model is even looked at", async () => {
    const error = await refusalOf(service.client.generateEmbedding({ model: "no-such-model", input: [""] }));
    expect(error).toMatchObject({ policy: "POL-LLM-004" });
  });

  it("a chat-only model is unsupported, an unknown one unknown", async () => {
    const chat = await refusalOf(service.client.generateEmbedding({ model: "model-0", input: "hello" }));
    expect(chat).toMatchObject({ code: "unsupported", field: "model" });
    expect(chat.message).toContain("does not support embeddings");
    const unknown = await refusalOf(
      service.client.generateEmbedding({ model: "no-such-model", input: "hello" }),
    );
    expect(unknown).toMatchObject({ code: "unknown_model", field: "model" });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe("generate_embedding: upstream failure in the middle of a batch", () => {
  it("fails the request, leaves only whole entries and no claims, and the retry completes the batch", async () => {
    const texts = ["m1", "m2", "m3", "m4", "m5", "m6"];
    upstream.enqueue(
      { kind: "default" },
      { kind: "error", status: 400, message: "bad input in batch" },
      { kind: "default" },
    );
    const error = await refusalOf(service.client.generateEmbedding({ model: "embed-batch-2", input: texts }));
    expect(error).toMatchObject({ code: "upstream_bad_request" });

    const entries = await readAllCacheEntries(service.nc);
    for (const [key, entry] of entries) {
      if (typeof entry === "string") continue;
      expect(entry.kind, `key ${key} still holds a claim`).toBe("vector");
    }
    const stored = texts.filter((text) => {
      const entry = entries.get(cacheKey(text, "embed-batch-2"));
      return typeof entry === "object" && entry.kind === "vector";
    });
    for (const text of stored) {
      const entry = entries.get(cacheKey(text, "embed-batch-2"));
      if (typeof entry !== "object" || entry.kind !== "vector") throw new Error("vanished");
      expect(entry.vector).toEqual(expected(text));
    }
    expect(stored.length).toBeLessThanOrEqual(4);

    upstream.reset();
    const retry = await service.client.generateEmbedding({ model: "embed-batch-2", input: texts });
    expect(vectorsOf(retry)).toEqual(texts.map((text) => expected(text)));
    expect(retry.data.filter((item) => item.cached).map((item) => texts[item.index])).toEqual(stored);
    expect(upstreamInputs(upstream.requests).flat().sort()).toEqual(
      texts.filter((text) => !stored.includes(text)).sort(),
    );
  });
});

describe("the cache bucket", () => {
  it("is created with the configured TTL, one record per key and direct gets", async () => {
    const jsm = await jetstreamManager(service.nc);
    const { config } = await jsm.streams.info(`KV_${TEST_BUCKET}`);
    expect(config).toMatchObject({
      max_age: 30 * 24 * 60 * 60 * 1000 * 1_000_000,
      max_msgs_per_subject: 1,
      allow_direct: true,
      num_replicas: 1,
    });
  });
});
