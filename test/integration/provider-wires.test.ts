// The new wires through the real service over NATS: a caller changes only the model name to
// reach Anthropic, Ollama, Azure OpenAI or OpenRouter, and gets the same neutral answer back —
// priced, with what each provider could not honour in `warnings`.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropicServer, type FakeAnthropicServer } from "../fakes/anthropic-server.js";
import { startFakeAzureOpenAIServer, type FakeAzureOpenAIServer } from "../fakes/azure-openai-server.js";
import { fakeEmbedding, startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { startFakeOllamaServer, type FakeOllamaServer } from "../fakes/ollama-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import { multiWireConfig, startTestService, type TestService } from "../support/service.js";
import { embeddingValues } from "../harness/embedding-values.js";

const KEYS = {
  ANTHROPIC_KEY: "sk-ant-test-0123456789abcdef",
  AZURE_KEY: "azure-test-0123456789abcdef",
  OPENROUTER_KEY: "sk-or-test-0123456789abcdef",
};

let nats: NatsServerHandle;
let anthropic: FakeAnthropicServer;
let ollama: FakeOllamaServer;
let azure: FakeAzureOpenAIServer;
let openrouter: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  [nats, anthropic, ollama, azure, openrouter] = await Promise.all([
    startNatsServer(),
    startFakeAnthropicServer({ apiKey: KEYS.ANTHROPIC_KEY }),
    startFakeOllamaServer({ models: ["llama3.2:3b", "nomic-embed-text"] }),
    startFakeAzureOpenAIServer({ apiKey: KEYS.AZURE_KEY, deployments: ["gpt-4o-mini-prod"] }),
    startFakeOpenAIServer({ apiKey: KEYS.OPENROUTER_KEY }),
  ]);
  const config = multiWireConfig(
    nats.url,
    [
      {
        provider: {
          id: "anthropic",
          provider_type: "anthropic",
          endpoint: anthropic.baseUrl,
          api_key_ref: "env:ANTHROPIC_KEY",
        },
        model: {
          model_name: "claude",
          upstream_model: "claude-sonnet-5-5",
          max_tokens: 2_048,
          cost: { input_per_million: 3, output_per_million: 15 },
        },
      },
      {
        provider: { id: "ollama", provider_type: "ollama", endpoint: ollama.baseUrl },
        model: { model_name: "llama", upstream_model: "llama3.2:3b" },
      },
      {
        provider: {
          id: "azure",
          provider_type: "azure_openai",
          endpoint: azure.endpoint,
          api_key_ref: "env:AZURE_KEY",
          api_version: "2024-10-21",
        },
        model: { model_name: "gpt-4o-mini@azure", upstream_model: "gpt-4o-mini-prod" },
      },
      {
        provider: {
          id: "openrouter",
          provider_type: "openrouter",
          endpoint: openrouter.baseUrl,
          api_key_ref: "env:OPENROUTER_KEY",
          openrouter: { provider: { order: ["anthropic"], allow_fallbacks: false } },
        },
        model: {
          model_name: "claude@openrouter",
          upstream_model: "anthropic/claude-sonnet-4.5",
          cost: { input_per_million: 3, output_per_million: 15 },
        },
      },
    ],
    { fallback_chains: [{ id: "claude-then-llama", models: ["claude", "llama"] }] },
  );
  config.models.push({
    model_name: "nomic",
    provider_id: "ollama",
    upstream_model: "nomic-embed-text",
    context_window: 8_192,
    max_tokens: 8_192,
    dimensions: 8,
    features: { chat: false, embedding: true, function_calling: false, streaming: false },
  });
  service = await startTestService(config, KEYS);
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([anthropic?.close(), ollama?.close(), azure?.close(), openrouter?.close()]);
  await nats?.stop();
});

beforeEach(() => {
  anthropic.reset();
  ollama.reset();
  azure.reset();
  openrouter.reset();
});

const conversation = [
  { role: "system" as const, content: "You are terse." },
  { role: "user" as const, content: "Hello there" },
];

describe("complete_chat over every wire", () => {
  it("anthropic: system lifted, the model's max_tokens sent, unsupported settings warned", async () => {
    const completion = await service.client.completeChat({
      model: "claude",
      messages: conversation,
      temperature: 0.2,
    });
    expect(completion).toMatchObject({
      model: "claude",
      provider_id: "anthropic",
      content: "echo: Hello there",
      finish_reason: "stop",
      raw_finish_reason: "end_turn",
      warnings: ["temperature is not supported by Anthropic and was not sent"],
    });
    expect(completion.upstream_id).toMatch(/^msg_/);
    const { prompt_tokens: prompt, completion_tokens: output, cost } = completion.usage;
    expect(cost.total).toBeCloseTo((prompt * 3 + output * 15) / 1_000_000, 12);
    expect(anthropic.requests[0]!.body).toMatchObject({
      model: "claude-sonnet-5-5",
      max_tokens: 2_048,
      system: "You are terse.",
      messages: [{ role: "user", content: [{ type: "text", text: "Hello there" }] }],
    });
  });

  it("ollama: native /api/chat, eval counts as usage, cost 0 without prices", async () => {
    ollama.setReply({ promptEvalCount: 26, evalCount: 3 });
    const completion = await service.client.completeChat({
      model: "llama",
      messages: conversation,
      max_tokens: 20,
    });
    expect(completion).toMatchObject({
      provider_id: "ollama",
      content: "echo: Hello there",
      raw_finish_reason: "stop",
      usage: { prompt_tokens: 26, completion_tokens: 3, total_tokens: 29, cost: { total: 0 } },
      warnings: [],
    });
    expect(ollama.requests[0]!.body).toMatchObject({ stream: false, options: { num_predict: 20 } });
  });

  it("azure_openai: the deployment URL with api-version and api-key", async () => {
    const completion = await service.client.completeChat({
      model: "gpt-4o-mini@azure",
      messages: conversation,
    });
    expect(completion).toMatchObject({
      provider_id: "azure",
      content: "echo: Hello there",
      finish_reason: "stop",
    });
    expect(azure.requests[0]).toMatchObject({
      path: "/openai/deployments/gpt-4o-mini-prod/chat/completions",
    });
    expect(azure.requests[0]!.query.get("api-version")).toBe("2024-10-21");
    expect(azure.requests[0]!.headers["api-key"]).toBe(KEYS.AZURE_KEY);
  });

  it("openrouter: routing preferences sent, the cost it reports is the reply's cost", async () => {
    openrouter.enqueue({
      kind: "reply",
      body: {
        id: "gen-1764000000-xyz",
        object: "chat.completion",
        created: 1_764_000_000,
        model: "anthropic/claude-sonnet-4.5",
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "Hi" } }],
        usage: { prompt_tokens: 1_000, completion_tokens: 100, total_tokens: 1_100, cost: 0.0048 },
      },
    });
    const completion = await service.client.completeChat({
      model: "claude@openrouter",
      messages: conversation,
    });
    // Configured prices would give $0.0045; OpenRouter billed $0.0048. Split like the prices: 2/3 input.
    expect(completion.usage.cost).toEqual({ currency: "USD", input: 0.0032, output: 0.0016, total: 0.0048 });
    expect(openrouter.requests[0]!.body).toMatchObject({
      provider: { order: ["anthropic"], allow_fallbacks: false },
    });
  });

  it("falls back across wires: Anthropic overloaded → Ollama answers", async () => {
    anthropic.enqueue({ kind: "error", status: 529 }, { kind: "error", status: 529 });
    const completion = await service.client.completeChat({ model: "claude", messages: conversation });
    expect(completion).toMatchObject({ model: "llama", provider_id: "ollama", content: "echo: Hello there" });
    expect(
      completion.attempts.map((attempt) => [attempt.provider_id, attempt.outcome, attempt.error_code]),
    ).toEqual([
      ["anthropic", "error", "upstream_unavailable"],
      ["anthropic", "error", "upstream_unavailable"],
      ["ollama", "success", undefined],
    ]);
  });
});

describe("generate_embedding over the Ollama wire", () => {
  it("sends a batch to /api/embed and returns the vectors in input order", async () => {
    const result = await service.client.generateEmbedding({ model: "nomic", input: ["alpha", "beta"] });
    expect(result.data.map((item) => embeddingValues(item.embedding))).toEqual([
      fakeEmbedding("alpha", 8),
      fakeEmbedding("beta", 8),
    ]);
    expect(ollama.requests.filter((request) => request.path === "/api/embed")).toHaveLength(1);
  });
});
