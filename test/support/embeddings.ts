// Embedding test helpers: a config with embedding models against the fake OpenAI server, and
// readers of what the cache bucket holds.
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { createEmbeddingKeyDeriver } from "../../services/llm-provider/src/domain/embedding-key.js";
import { decodeCacheValue } from "../../services/llm-provider/src/infra/kv/embedding-cache/embedding-cache-value.js";
import type { CacheValue } from "../../services/llm-provider/src/infra/kv/embedding-cache/embedding-cache-value.js";
import { testConfig } from "./service.js";

/** The fake server's vector length when no `dimensions` is sent. */
export const FAKE_NATIVE_DIMENSIONS = 8;
export const TEST_BUCKET = "test_embeddings";

/**
 * One provider `p0` with: `embed` (8 dimensions, shortens on request), `embed-batch-2` (the
 * provider takes 2 inputs per call), `embed-16` (claims 16 dimensions; the fake sends 8), and the
 * chat model `model-0`.
 */
export function embeddingConfig(
  natsUrl: string,
  endpoint: string,
  cache: Partial<NonNullable<ConfigInput["embedding_cache"]>> = {},
): ConfigInput {
  const config = testConfig(natsUrl, [endpoint]);
  const embeddingModel = {
    provider_id: "p0",
    upstream_model: "text-embedding-3-small",
    context_window: 8_191,
    max_tokens: 8_191,
    dimensions: FAKE_NATIVE_DIMENSIONS,
    cost: { input_per_million: 20, output_per_million: 0 },
    features: { chat: false, embedding: true, function_calling: false, streaming: false },
  };
  config.models.push(
    { ...embeddingModel, model_name: "embed", configurable_dimensions: true },
    { ...embeddingModel, model_name: "embed-batch-2", max_batch_size: 2 },
    { ...embeddingModel, model_name: "embed-16", dimensions: 16 },
  );
  config.embedding_cache = { bucket: TEST_BUCKET, ...cache };
  return config;
}

/** The cache key the service derives for `input` (model `embed` by default). */
export function cacheKey(input: string, model = "embed", dimensions = FAKE_NATIVE_DIMENSIONS): string {
  return createEmbeddingKeyDeriver({ model, upstreamModel: "text-embedding-3-small", dimensions })(input);
}

/** What the bucket holds for a key: nothing, a deletion marker, or a decoded value. */
export async function readCacheEntry(
  nc: NatsConnection,
  key: string,
  bucket = TEST_BUCKET,
): Promise<"none" | "deleted" | CacheValue | "unreadable"> {
  const kv = await new Kvm(nc).open(bucket);
  const entry = await kv.get(key);
  if (entry === null) return "none";
  if (entry.operation !== "PUT") return "deleted";
  return decodeCacheValue(entry.value) ?? "unreadable";
}

/**
 * What the bucket holds for a key once it holds a vector (a reply may go out while its vectors
 * are still being written), or what it held when `timeoutMs` ran out.
 */
export async function waitForCachedVector(
  nc: NatsConnection,
  key: string,
  bucket = TEST_BUCKET,
  timeoutMs = 5_000,
): Promise<Awaited<ReturnType<typeof readCacheEntry>>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const entry = await readCacheEntry(nc, key, bucket);
    if ((typeof entry === "object" && entry.kind === "vector") || Date.now() > until) return entry;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every key of the bucket with what it holds, for asserting that nothing is half-written. */
export async function readAllCacheEntries(
  nc: NatsConnection,
  bucket = TEST_BUCKET,
): Promise<Map<string, Awaited<ReturnType<typeof readCacheEntry>>>> {
  const kv = await new Kvm(nc).open(bucket);
  const entries = new Map<string, Awaited<ReturnType<typeof readCacheEntry>>>();
  for await (const key of await kv.keys()) entries.set(key, await readCacheEntry(nc, key, bucket));
  return entries;
}

/** Empties the cache bucket between tests. */
export async function purgeCache(nc: NatsConnection, bucket = TEST_BUCKET): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.purge(`KV_${bucket}`);
}

/** The texts of every embeddings call the fake upstream received, call by call. */
export function upstreamInputs(requests: readonly { path: string; body: unknown }[]): string[][] {
  return requests
    .filter((request) => request.path === "/v1/embeddings")
    .map((request) => (request.body as { input: string[] }).input);
}
