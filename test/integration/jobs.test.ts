// Durable embedding jobs through the real service over NATS and JetStream: items published one
// message each, one result per item (vectors equal to the upstream's, duplicates folded by the
// cache), a permanently failing item reported as a typed error while the others succeed, a rate
// limit absorbed as backpressure, a cancelled job, and a worker SIGKILLed mid-job losing nothing.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient, JobResultsPageSchema, SUBJECTS } from "@llm-provider/contracts";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import type { ChatJobResult, EmbeddingJobResult } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { fakeEmbedding, startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import { waitForEvents } from "../support/events.js";
import { runMain, waitUntilServing } from "../support/main-process.js";
import { refusalOf } from "../support/refusal.js";
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
let workDir: string;

const config = (jobs: ConfigInput["jobs"] = {}): ConfigInput => {
  const base = testConfig(nats.url, [upstream.baseUrl]);
  return {
    ...base,
    models: [
      ...base.models,
      embedderModel({ max_batch_size: 64 }),
      embedderModel({
        model_name: "wide-embedder",
        dimensions: 3_072,
        configurable_dimensions: true,
        max_batch_size: 64,
      }),
    ],
    jobs: { ack_wait_ms: 2_000, retry_base_ms: 50, batch_items: 64, ...jobs },
  };
};

beforeAll(async () => {
  [nats, upstream] = await Promise.all([startNatsServer(), startFakeOpenAIServer({ apiKey: TEST_API_KEY })]);
  service = await startTestService(config());
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-jobs-"));
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

beforeEach(() => upstream.reset());

const embeddingCalls = () => upstream.requests.filter((request) => request.path === "/v1/embeddings").length;
const texts = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, i) => `${prefix} ${i % 500}`);

async function collect(results: AsyncIterable<EmbeddingJobResult>): Promise<Map<string, EmbeddingJobResult>> {
  const byItem = new Map<string, EmbeddingJobResult>();
  for await (const result of results) {
    expect(byItem.has(result.item_id), `a second result for item ${result.item_id}`).toBe(false);
    byItem.set(result.item_id, result);
  }
  return byItem;
}

function expectVector(result: EmbeddingJobResult | undefined, text: string): void {
  expect(result?.ok).toBe(true);
  if (!result?.ok) return;
  // Written as the shortest text of each float32, as OpenAI's API writes them.
  expect(Array.from(Float32Array.from(result.embedding as number[]))).toEqual(
    Array.from(fakeEmbedding(text, 8)),
  );
}

describe("an embedding job", () => {
  it("gives every item exactly one result, equal to the provider's vector, and reports completion", async () => {
    const inputs = texts(1_200, "round trip");
    const job = await service.client.submitEmbeddingJob({ model: "embedder", items: inputs });
    const results = await collect(job);
    expect(results.size).toBe(1_200);
    inputs.forEach((text, index) => expectVector(results.get(String(index)), text));

    const status = await job.status();
    expect(status).toMatchObject({ state: "completed", total_items: 1_200, succeeded: 1_200, failed: 0 });
    expect(status.usage.prompt_tokens).toBeGreaterThan(0);
    // 500 distinct texts in batches of 64: repeats come from the embedding cache.
    expect(embeddingCalls()).toBeLessThanOrEqual(Math.ceil(1_200 / 64));
    const events = await waitForEvents(service.nc, (stored) =>
      stored.some((e) => e.event.type === SUBJECTS.jobFinishedEvent && e.event["job_id"] === job.jobId),
    );
    const finished = events.filter((e) => e.event["job_id"] === job.jobId);
    expect(finished.find((e) => e.event.type === SUBJECTS.jobFinishedEvent)?.event.data).toMatchObject({
      state: "completed",
      total_items: 1_200,
      succeeded: 1_200,
      failed: 0,
    });
    const progress = finished.filter((e) => e.event.type === SUBJECTS.jobProgressEvent);
    expect(progress.length).toBeGreaterThan(0);
  });

  it("reports an item that fails for good as a typed error while the others succeed", async () => {
    const items = [
      { id: "a", input: "fine one" },
      { id: "too-long", input: "word ".repeat(10_000) },
      { id: "b", input: "fine two" },
    ];
    const job = await service.client.submitEmbeddingJob({ model: "embedder", items });
    const results = await collect(job);
    expectVector(results.get("a"), "fine one");
    expectVector(results.get("b"), "fine two");
    expect(results.get("too-long")).toMatchObject({
      ok: false,
      error: { code: "context_length_exceeded", retryable: false },
    });
    expect(await job.status()).toMatchObject({ state: "completed", succeeded: 2, failed: 1 });
  });

  it("takes a rate limit as backpressure: the items come again and succeed", async () => {
    upstream.enqueue({ kind: "error", status: 429, headers: { "retry-after-ms": "50" } });
    const job = await service.client.submitEmbeddingJob({
      model: "embedder",
      items: ["limited a", "limited b"],
    });
    const results = await collect(job);
    expectVector(results.get("0"), "limited a");
    expectVector(results.get("1"), "limited b");
    expect(await job.status()).toMatchObject({ state: "completed", succeeded: 2, failed: 0 });
  });

  it("embeds a batch larger than one NATS message in one call, and pages its results within the reply limit", async () => {
    // 64 vectors of 3,000 floats: over 1 MB as JSON, more than any one reply may carry.
    const inputs = texts(64, "wide");
    const job = await service.client.submitEmbeddingJob({
      model: "wide-embedder",
      dimensions: 3_000,
      items: inputs,
    });
    const finished = await job.finished();
    expect(finished).toMatchObject({ state: "completed", succeeded: 64, failed: 0 });
    // One upstream call, and its tokens on the job's bill (not lost to a refused reply).
    expect(embeddingCalls()).toBe(1);
    expect(finished.usage.prompt_tokens).toBeGreaterThan(0);

    const page = async (afterSeq: number) =>
      JobResultsPageSchema.parse(
        (
          await service.nc.request(
            SUBJECTS.getJobResults,
            JSON.stringify({ job_id: job.jobId, after_seq: afterSeq }),
            { timeout: 10_000 },
          )
        ).json(),
      );
    const first = await page(0);
    // Cut by the reply's size, not by max_results: more remain, so the page is not the last.
    expect(first.results.length).toBeGreaterThan(0);
    expect(first.results.length).toBeLessThan(64);
    expect(first).toMatchObject({ state: "completed", complete: false });
    const results = await collect(job);
    expect(results.size).toBe(64);
    for (const [index, text] of inputs.entries()) {
      const result = results.get(String(index));
      expect(result?.ok && Array.from(Float32Array.from(result.embedding as number[]))).toEqual(
        Array.from(fakeEmbedding(text, 3_000)),
      );
    }
  });

  it("refuses a model that does not embed, and a job of another body under the same id", async () => {
    const chat = await refusalOf(service.client.submitEmbeddingJob({ model: "model-0", items: ["x"] }));
    expect(chat).toMatchObject({ code: "unsupported", field: "model" });
    const first = await service.client.submitEmbeddingJob({
      model: "embedder",
      job_id: "same-id",
      items: ["x"],
    });
    const reused = await refusalOf(
      service.client.submitEmbeddingJob({
        model: "embedder",
        job_id: "same-id",
        encoding_format: "base64",
        items: ["x"],
      }),
    );
    expect(reused).toMatchObject({ code: "invalid_request", field: "job_id" });
    // Done before the next test counts upstream calls.
    expect(await first.finished()).toMatchObject({ state: "completed", succeeded: 1 });
    const unknown = await refusalOf(service.client.embeddingJob("no-such-job").status());
    expect(unknown).toMatchObject({ code: "not_found", field: "job_id" });
  });
});

describe("a chat job", () => {
  it("answers each item's request with the job's model, once, and fails a bad one on its own", async () => {
    // The first call is rate limited: backpressure, the item comes again.
    upstream.enqueue({ kind: "error", status: 429, headers: { "retry-after-ms": "50" } });
    const requests = Array.from({ length: 30 }, (_, i) => ({
      messages: [{ role: "user" as const, content: `classify ${i}` }],
      max_tokens: 16,
    }));
    const job = await service.client.submitChatJob({
      model: "model-0",
      metadata: { purpose: "classification" },
      items: [
        ...requests.map((request, i) => ({ id: `doc-${i}`, request })),
        // POL-LLM-003: a request without messages is refused, as over request/reply.
        { id: "empty", request: { messages: [] } },
      ],
    });
    const results = new Map<string, ChatJobResult>();
    for await (const result of job) {
      expect(results.has(result.item_id), `a second result for ${result.item_id}`).toBe(false);
      results.set(result.item_id, result);
    }
    expect(results.size).toBe(31);
    requests.forEach((_, i) => {
      const result = results.get(`doc-${i}`);
      expect(result?.ok && result.completion).toMatchObject({
        content: `echo: classify ${i}`,
        model: "model-0",
        request_id: `job-${job.jobId}-doc-${i}`,
      });
    });
    expect(results.get("empty")).toMatchObject({ ok: false, error: { code: "invalid_request" } });
    const status = await job.status();
    expect(status).toMatchObject({ kind: "chat", state: "completed", succeeded: 30, failed: 1 });
    expect(status.usage.prompt_tokens).toBeGreaterThan(0);
    expect(status.usage.completion_tokens).toBeGreaterThan(0);
    expect(status.usage.cost.total).toBeGreaterThan(0);
    // One upstream call per item answered (and the one rate limited).
    expect(upstream.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(31);
    // Each item's completion is a chat_completed event of the job's caller, tagged with the job's metadata.
    const ofItem = (event: { type: string; request_id?: unknown }) =>
      event.type === SUBJECTS.chatCompletedEvent && String(event.request_id).startsWith(`job-${job.jobId}-`);
    const events = await waitForEvents(
      service.nc,
      (stored) => stored.filter((e) => ofItem(e.event)).length >= 30,
    );
    const completed = events.filter((e) => ofItem(e.event));
    expect(completed).toHaveLength(30);
    expect(completed[0]?.event.data).toMatchObject({ metadata: { purpose: "classification" } });
  });

  it("refuses a model that does not chat, and a request the typed client can tell is bad", async () => {
    const embedder = await refusalOf(
      service.client.submitChatJob({
        model: "embedder",
        items: [{ messages: [{ role: "user", content: "x" }] }],
      }),
    );
    expect(embedder).toMatchObject({ code: "unsupported", field: "model" });
    const bad = await refusalOf(
      service.client.submitChatJob({
        model: "model-0",
        items: [{ messages: [{ role: "user", content: "x" }], temperature: 7 }],
      }),
    );
    expect(bad).toMatchObject({ code: "invalid_request", field: "temperature" });
  });
});

describe("a cancelled job", () => {
  it("stops: queued items are dropped, the job says cancelled and a finished event says so", async () => {
    await service.stop();
    service = await startTestService(config({ batch_items: 4, concurrent_batches: 1 }));
    try {
      upstream.setModelBehavior("embedder", { kind: "delay", ms: 100 });
      const job = await service.client.submitEmbeddingJob({
        model: "embedder",
        items: texts(400, "cancel me"),
      });
      await until("the first batch upstream", () => embeddingCalls() > 0, 10_000);
      const cancelled = await job.cancel();
      expect(cancelled.state).toBe("cancelled");
      expect(cancelled.finished_at).not.toBeNull();
      const jsm = await jetstreamManager(service.nc);
      const items = await jsm.streams.info("LLM_PROVIDER_JOB_ITEMS", {
        subjects_filter: `llm-provider.job_items.${job.jobId}`,
      });
      expect(items.state.subjects?.[`llm-provider.job_items.${job.jobId}`] ?? 0).toBe(0);
      const results = await collect(job);
      expect(results.size).toBeLessThan(400);
      const status = await job.finished();
      expect(status).toMatchObject({ state: "cancelled", total_items: 400 });
      await waitForEvents(service.nc, (stored) =>
        stored.some(
          (e) =>
            e.event.type === SUBJECTS.jobFinishedEvent &&
            e.event["job_id"] === job.jobId &&
            e.event.data["state"] === "cancelled",
        ),
      );
    } finally {
      upstream.setModelBehavior("embedder", undefined);
      await service.stop();
      service = await startTestService(config());
    }
  });
});

describe("a worker SIGKILLed mid-job", () => {
  it("loses nothing: its items go to the other worker and every item has exactly one result", async () => {
    const configPath = join(workDir, "worker.yaml");
    // The dead worker's claims on cache keys are taken over after claim_timeout_ms.
    const workerConfig = {
      ...config({ batch_items: 16, concurrent_batches: 2 }),
      embedding_cache: { claim_timeout_ms: 1_500 },
    };
    await writeFile(configPath, toYaml(workerConfig));
    const env = { TEST_OPENAI_KEY: TEST_API_KEY };
    const doomed = runMain(configPath, env);
    const survivor = runMain(configPath, env);
    // Only the two processes take items.
    await service.stop();
    const nc = await connect({ servers: nats.url });
    try {
      await waitUntilServing(nc, doomed);
      await waitUntilServing(nc, survivor);
      upstream.setModelBehavior("embedder", { kind: "delay", ms: 20 });
      const client = createLlmProviderClient(nc, { timeouts: { query: 10_000 } });
      const inputs = Array.from({ length: 1_500 }, (_, i) => `crash item ${i}`);
      const job = await client.submitEmbeddingJob({ model: "embedder", items: inputs });
      await until("a quarter of the results", () => embeddingCalls() * 16 > 400, 20_000);
      doomed.child.kill("SIGKILL");
      await doomed.exited;
      const results = await collect(job);
      expect(results.size).toBe(1_500);
      inputs.forEach((text, index) => expectVector(results.get(String(index)), text));
      expect(await job.status()).toMatchObject({ state: "completed", succeeded: 1_500, failed: 0 });
    } finally {
      upstream.setModelBehavior("embedder", undefined);
      doomed.child.kill("SIGKILL");
      survivor.child.kill("SIGTERM");
      await survivor.exited;
      await nc.close();
      service = await startTestService(config());
    }
  }, 60_000);
});
