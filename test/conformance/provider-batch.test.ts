// The provider batch clients (OpenAI Batch, Anthropic Message Batches) through the official SDKs
// against fakes that speak the real wire: files uploaded as multipart JSONL, batches moving
// through their statuses, output and error files or results JSONL read back by custom_id.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FailureClass, UpstreamError } from "../../services/llm-provider/src/domain/failure.js";
import {
  createHttpDispatcher,
  createUndiciFetch,
} from "../../services/llm-provider/src/infra/http/undici-fetch.js";
import type {
  BatchItemResult,
  ProviderBatchClient,
  ProviderBatchState,
} from "../../services/llm-provider/src/ports/provider-batch-client.js";
import type { ChatOutcome, EmbeddingOutcome } from "../../services/llm-provider/src/ports/provider-client.js";
import { createProviderBatchClient } from "../../services/llm-provider/src/providers/create-provider-batch-client.js";
import type { ProviderSpec } from "../../services/llm-provider/src/domain/catalog.js";
import { startFakeAnthropicServer, type FakeAnthropicServer } from "../fakes/anthropic-server.js";
import { fakeEmbedding, startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { CONFORMANCE_API_KEY, providerSpec } from "./wire-session.js";

/** A signal per call: the HTTP transport adds a listener to each one it is given. */
const signal = () => new AbortController().signal;
const dispatcher = createHttpDispatcher();
afterAll(() => dispatcher.destroy());

function batchClient(provider: ProviderSpec, apiKey = CONFORMANCE_API_KEY): ProviderBatchClient {
  const fetch = createUndiciFetch(dispatcher, { idleMs: provider.config.idle_timeout_ms });
  const client = createProviderBatchClient(provider, { apiKey, fetch });
  if (!client) throw new Error(`no batch API for ${provider.provider_type}`);
  return client;
}

/** Polls until the batch ended (each retrieve moves the fakes on; bounded so a stuck fake fails). */
async function untilEnded(client: ProviderBatchClient, batchId: string) {
  const seen: string[] = [];
  for (let polls = 0; polls < 20; polls++) {
    const state: ProviderBatchState = await client.check(batchId, signal());
    seen.push(state.providerStatus);
    if (state.status === "ended") return { state, seen };
  }
  throw new Error(`batch ${batchId} did not end: ${seen.join(" → ")}`);
}

const byId = <T>(results: BatchItemResult<T>[]) =>
  new Map(results.map((result) => [result.customId, result]));
const chatCall = (text: string, upstreamModel: string) => ({
  upstreamModel,
  modelMaxTokens: 1_024,
  request: { model: "m", messages: [{ role: "user" as const, content: text }] },
});

describe("OpenAI Batch API", () => {
  let fake: FakeOpenAIServer;
  let client: ProviderBatchClient;
  beforeAll(async () => {
    fake = await startFakeOpenAIServer({ apiKey: CONFORMANCE_API_KEY });
    client = batchClient(providerSpec({ id: "openai", provider_type: "openai", endpoint: fake.baseUrl }));
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it("uploads the texts as JSONL, follows validating → in_progress → finalizing → completed, and maps the vectors back by custom_id", async () => {
    const texts = ["alpha", "beta", "gamma"];
    const batchId = await client.submitEmbeddings!({
      upstreamModel: "text-embedding-3-small",
      dimensions: 16,
      items: texts.map((input, index) => ({ customId: `item-${index}`, input })),
      signal: signal(),
    });
    const upload = fake.requests.find((request) => request.path === "/v1/files")!;
    expect(String(upload.headers["content-type"])).toMatch(/^multipart\/form-data; boundary=/);
    const created = fake.requests.find((request) => request.path === "/v1/batches")!.body;
    expect(created).toMatchObject({ endpoint: "/v1/embeddings", completion_window: "24h" });

    const { state, seen } = await untilEnded(client, batchId);
    expect(seen).toEqual(["in_progress", "finalizing", "completed"]);
    expect(state).toEqual({ status: "ended", outcome: "completed", providerStatus: "completed" });

    const results = byId(await client.readEmbeddingResults!(batchId, signal()));
    expect(results.size).toBe(3);
    texts.forEach((text, index) => {
      const result = results.get(`item-${index}`) as { outcome: EmbeddingOutcome };
      expect(Array.from(result.outcome.vectors[0]!)).toEqual(Array.from(fakeEmbedding(text, 16)));
      expect(result.outcome.usage?.promptTokens).toBeGreaterThan(0);
    });
  });

  it("reports a line the provider refused as that item's classified error, the others as answers", async () => {
    fake.setModelBehavior("gpt-4o-mini", {
      kind: "error",
      status: 400,
      code: "context_length_exceeded",
      message: "too long",
    });
    const batchId = await client.submitChats({
      items: [{ customId: "only", call: chatCall("hello", "gpt-4o-mini") }],
      signal: signal(),
    });
    await untilEnded(client, batchId);
    fake.setModelBehavior("gpt-4o-mini", undefined);
    const [result] = await client.readChatResults(batchId, signal());
    expect(result).toMatchObject({ customId: "only" });
    const error = (result as { error: UpstreamError }).error;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.failure).toBe(FailureClass.contextWindowExceeded);
    expect(error.status).toBe(400);
  });

  it("answers chat lines with the completion a direct call gets", async () => {
    const batchId = await client.submitChats({
      items: [
        { customId: "a", call: chatCall("first question", "gpt-4o-mini") },
        { customId: "b", call: chatCall("second question", "gpt-4o-mini") },
      ],
      signal: signal(),
    });
    await untilEnded(client, batchId);
    const results = byId(await client.readChatResults(batchId, signal()));
    expect((results.get("a") as { outcome: ChatOutcome }).outcome.content).toBe("echo: first question");
    expect((results.get("b") as { outcome: ChatOutcome }).outcome.content).toBe("echo: second question");
    expect((results.get("b") as { outcome: ChatOutcome }).outcome.usage?.promptTokens).toBeGreaterThan(0);
  });

  it("ends a batch that failed validation as failed, with the provider's reason", async () => {
    fake.scriptBatchEndings("failed");
    const batchId = await client.submitEmbeddings!({
      upstreamModel: "text-embedding-3-small",
      items: [{ customId: "x", input: "text" }],
      signal: signal(),
    });
    const { state } = await untilEnded(client, batchId);
    expect(state).toMatchObject({ status: "ended", outcome: "failed" });
    expect(state.status === "ended" && state.failure).toMatch(/token_limit_exceeded/);
  });

  it("reports every request of an expired batch as a timeout item error", async () => {
    fake.scriptBatchEndings("expired");
    const batchId = await client.submitEmbeddings!({
      upstreamModel: "text-embedding-3-small",
      items: [
        { customId: "x", input: "one" },
        { customId: "y", input: "two" },
      ],
      signal: signal(),
    });
    const { state } = await untilEnded(client, batchId);
    expect(state).toMatchObject({ status: "ended", outcome: "expired" });
    const results = await client.readEmbeddingResults!(batchId, signal());
    expect(results.map((result) => result.customId).sort()).toEqual(["x", "y"]);
    for (const result of results) {
      expect((result as { error: UpstreamError }).error).toMatchObject({
        failure: FailureClass.timeout,
        providerCode: "batch_expired",
      });
    }
  });

  it("cancels a batch: it ends cancelled", async () => {
    const batchId = await client.submitEmbeddings!({
      upstreamModel: "text-embedding-3-small",
      items: [{ customId: "x", input: "one" }],
      signal: signal(),
    });
    await client.cancel(batchId, signal());
    const { state } = await untilEnded(client, batchId);
    expect(state).toMatchObject({ status: "ended", outcome: "cancelled" });
    expect(fake.requests.some((request) => request.path === `/v1/batches/${batchId}/cancel`)).toBe(true);
  });

  it("classifies a refused upload and keeps the API key out of the error", async () => {
    const wrongKey = "sk-wrong-key-0123456789";
    const stranger = batchClient(
      providerSpec({ id: "openai", provider_type: "openai", endpoint: fake.baseUrl }),
      wrongKey,
    );
    const error = await stranger.submitEmbeddings!({
      upstreamModel: "text-embedding-3-small",
      items: [{ customId: "x", input: "a" }],
      signal: signal(),
    }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).failure).toBe(FailureClass.auth);
    expect((error as UpstreamError).message).not.toContain(wrongKey);
  });
});

describe("Anthropic Message Batches", () => {
  let fake: FakeAnthropicServer;
  let client: ProviderBatchClient;
  beforeAll(async () => {
    fake = await startFakeAnthropicServer({ apiKey: CONFORMANCE_API_KEY });
    client = batchClient(
      providerSpec({ id: "anthropic", provider_type: "anthropic", endpoint: fake.baseUrl }),
    );
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it("sends the requests as Messages bodies, polls until ended and maps each result back by custom_id", async () => {
    const batchId = await client.submitChats({
      items: [
        { customId: "q1", call: chatCall("first question", "claude-sonnet-4-5") },
        { customId: "q2", call: chatCall("second question", "claude-sonnet-4-5") },
      ],
      signal: signal(),
    });
    const created = fake.requests.find((request) => request.path === "/v1/messages/batches")!.body;
    expect(created).toMatchObject({
      requests: [
        { custom_id: "q1", params: { model: "claude-sonnet-4-5", max_tokens: 1_024 } },
        { custom_id: "q2", params: { model: "claude-sonnet-4-5" } },
      ],
    });
    const { state, seen } = await untilEnded(client, batchId);
    expect(seen).toEqual(["in_progress", "ended"]);
    expect(state).toMatchObject({ status: "ended", outcome: "completed" });
    const results = byId(await client.readChatResults(batchId, signal()));
    expect((results.get("q1") as { outcome: ChatOutcome }).outcome.content).toBe("echo: first question");
    expect((results.get("q2") as { outcome: ChatOutcome }).outcome).toMatchObject({
      content: "echo: second question",
      finishReason: "stop",
    });
  });

  it("reports a request the API refused as that item's bad_request, the other as an answer", async () => {
    const batchId = await client.submitChats({
      items: [
        { customId: "good", call: chatCall("fine", "claude-sonnet-4-5") },
        {
          customId: "bad",
          call: {
            ...chatCall("fine", "claude-sonnet-4-5"),
            // A prefill ending in whitespace: the Messages API refuses it with a 400.
            request: {
              model: "m",
              messages: [
                { role: "user" as const, content: "fine" },
                { role: "assistant" as const, content: "Sure, " },
              ],
            },
          },
        },
      ],
      signal: signal(),
    });
    await untilEnded(client, batchId);
    const results = byId(await client.readChatResults(batchId, signal()));
    expect((results.get("good") as { outcome: ChatOutcome }).outcome.content).toBe("echo: fine");
    const error = (results.get("bad") as { error: UpstreamError }).error;
    expect(error).toMatchObject({
      failure: FailureClass.badRequest,
      status: 400,
      providerCode: "invalid_request_error",
    });
  });

  it("ends an expired batch as expired with a timeout error per request, and a cancelled one as cancelled", async () => {
    fake.scriptBatchEndings("expired");
    const expired = await client.submitChats({
      items: [{ customId: "e", call: chatCall("x", "claude-sonnet-4-5") }],
      signal: signal(),
    });
    expect((await untilEnded(client, expired)).state).toMatchObject({ outcome: "expired" });
    const [late] = await client.readChatResults(expired, signal());
    expect((late as { error: UpstreamError }).error.failure).toBe(FailureClass.timeout);

    const cancelled = await client.submitChats({
      items: [{ customId: "c", call: chatCall("x", "claude-sonnet-4-5") }],
      signal: signal(),
    });
    await client.cancel(cancelled, signal());
    expect((await untilEnded(client, cancelled)).state).toMatchObject({ outcome: "cancelled" });
    const [dropped] = await client.readChatResults(cancelled, signal());
    expect((dropped as { error: UpstreamError }).error.providerCode).toBe("canceled");
  });
});
