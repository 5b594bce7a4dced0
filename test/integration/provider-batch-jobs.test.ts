// provider_batch embedding jobs through the real service over NATS and JetStream, against the
// OpenAI fake's Batch API: the items go to the provider as one batch file, a poller collects the
// results, every item gets exactly one result equal to the fake's vector, the job is charged at
// the batch price; a failed batch gives every item a typed error; a cancelled job cancels its
// provider batch.
import type { EmbeddingJobResult } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { fakeEmbedding, startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import {
  embedderModel,
  startTestService,
  testConfig,
  TEST_API_KEY,
  type TestService,
} from "../support/service.js";
import { until } from "../support/until.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;

const INPUT_PRICE = 2; // USD per million tokens; the batch pays half

beforeAll(async () => {
  [nats, upstream] = await Promise.all([startNatsServer(), startFakeOpenAIServer({ apiKey: TEST_API_KEY })]);
  const base = testConfig(nats.url, [upstream.baseUrl]);
  const config: ConfigInput = {
    ...base,
    providers: base.providers.map((provider) => ({ ...provider, batch: { poll_interval_ms: 50 } })),
    models: [
      ...base.models,
      embedderModel({ cost: { input_per_million: INPUT_PRICE, output_per_million: 0 } }),
    ],
    jobs: { ack_wait_ms: 2_000, retry_base_ms: 50, batch_items: 64, provider_batch_lease_ms: 2_000 },
  };
  service = await startTestService(config);
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

beforeEach(() => upstream.reset());

async function collect(results: AsyncIterable<EmbeddingJobResult>): Promise<Map<string, EmbeddingJobResult>> {
  const byItem = new Map<string, EmbeddingJobResult>();
  for await (const result of results) {
    expect(byItem.has(result.item_id), `a second result for item ${result.item_id}`).toBe(false);
    byItem.set(result.item_id, result);
  }
  return byItem;
}

const created = () =>
  upstream.requests.filter((request) => request.method === "POST" && request.path === "/v1/batches");
/** Embedding calls the service made itself (the fake's own calls for batch lines carry a marker). */
const directEmbeddingCalls = () =>
  upstream.requests.filter(
    (request) => request.path === "/v1/embeddings" && !request.headers["x-fake-batch-line"],
  );

describe("a provider_batch embedding job", () => {
  it("goes to the provider as a batch and gives every item the provider's vector, charged at the batch price", async () => {
    const inputs = Array.from({ length: 40 }, (_, i) => `batched text ${i}`);
    const job = await service.client.submitEmbeddingJob({
      model: "embedder",
      mode: "provider_batch",
      items: inputs,
    });
    const results = await collect(job);
    expect(results.size).toBe(40);
    inputs.forEach((text, index) => {
      const result = results.get(String(index));
      expect(result?.ok).toBe(true);
      if (!result?.ok) return;
      expect(result.provider_id).toBe("p0");
      expect(Array.from(Float32Array.from(result.embedding as number[]))).toEqual(
        Array.from(fakeEmbedding(text, 8)),
      );
    });
    expect(created().length).toBeGreaterThanOrEqual(1);
    expect(directEmbeddingCalls()).toHaveLength(0);

    const status = await job.status();
    expect(status).toMatchObject({ mode: "provider_batch", state: "completed", succeeded: 40, failed: 0 });
    expect(status.usage.prompt_tokens).toBeGreaterThan(0);
    expect(status.usage.cost.total).toBeCloseTo(
      (status.usage.prompt_tokens * INPUT_PRICE * 0.5) / 1_000_000,
      12,
    );
  });

  it("gives every item of a failed provider batch a typed error, and the job still completes", async () => {
    upstream.scriptBatchEndings("failed");
    const job = await service.client.submitEmbeddingJob({
      model: "embedder",
      mode: "provider_batch",
      items: ["one", "two", "three"],
    });
    const results = await collect(job);
    expect(results.size).toBe(3);
    for (const result of results.values()) {
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.error).toMatchObject({ code: "upstream_bad_request", retryable: false });
      expect(result.error.message).toMatch(/token_limit_exceeded/);
    }
    expect(await job.status()).toMatchObject({ state: "completed", succeeded: 0, failed: 3 });
  });

  it("cancels the provider batch when the job is cancelled", async () => {
    upstream.scriptBatchEndings("stalled");
    const job = await service.client.submitEmbeddingJob({
      model: "embedder",
      mode: "provider_batch",
      items: ["slow one", "slow two"],
    });
    await until("the provider batch to be created", () => created().length === 1, 10_000);
    const cancelled = await job.cancel();
    expect(cancelled.state).toBe("cancelled");
    await until(
      "the provider batch to be cancelled",
      () => upstream.requests.some((request) => /^\/v1\/batches\/[^/]+\/cancel$/.test(request.path)),
      10_000,
    );
  });
});
