// The OpenAI-wire presets beyond the shared suite: OpenRouter's routing preferences and reported
// cost, Azure OpenAI's URL scheme and key header. Same client code, different configuration.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UpstreamError } from "../../services/llm-provider/src/domain/failure.js";
import { startFakeAzureOpenAIServer, type FakeAzureOpenAIServer } from "../fakes/azure-openai-server.js";
import { startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { CONFORMANCE_API_KEY, createWireClient, providerSpec } from "./wire-session.js";

const hello = { model: "m", messages: [{ role: "user" as const, content: "Hello there" }] };
const signal = () => new AbortController().signal;

describe("openrouter preset", () => {
  let fake: FakeOpenAIServer;
  let wire: ReturnType<typeof createWireClient>;
  const preferences = {
    order: ["anthropic", "openai"],
    allow_fallbacks: false,
    data_collection: "deny" as const,
  };

  beforeAll(async () => {
    fake = await startFakeOpenAIServer({ apiKey: CONFORMANCE_API_KEY, flavour: "openrouter" });
    wire = createWireClient(
      providerSpec({
        id: "openrouter",
        provider_type: "openrouter",
        endpoint: fake.baseUrl,
        headers: { "HTTP-Referer": "https://platform.example.com", "X-Title": "llm-provider" },
        openrouter: { provider: preferences },
      }),
      CONFORMANCE_API_KEY,
    );
  });
  afterAll(async () => {
    await wire?.closeTransport();
    await fake?.close();
  });

  it("sends the provider-routing preferences and attribution headers with every request", async () => {
    await wire.client.completeChat({
      upstreamModel: "anthropic/claude-sonnet-4.5",
      modelMaxTokens: 64,
      request: hello,
      signal: signal(),
    });
    expect(fake.requests[0]!.body).toMatchObject({
      model: "anthropic/claude-sonnet-4.5",
      provider: preferences,
    });
    expect(fake.requests[0]!.headers).toMatchObject({
      "http-referer": "https://platform.example.com",
      "x-title": "llm-provider",
    });
  });

  it("reads the cost OpenRouter reports, and its cache counts", async () => {
    fake.enqueue({
      kind: "reply",
      body: {
        id: "gen-1764000000-abcdef",
        provider: "Anthropic",
        model: "anthropic/claude-sonnet-4.5",
        object: "chat.completion",
        created: 1_764_000_000,
        choices: [
          {
            index: 0,
            finish_reason: "stop",
            native_finish_reason: "end_turn",
            message: { role: "assistant", content: "Hi" },
          },
        ],
        usage: {
          prompt_tokens: 194,
          completion_tokens: 2,
          total_tokens: 196,
          cost: 0.000612,
          is_byok: false,
          prompt_tokens_details: { cached_tokens: 150, cache_write_tokens: 0, audio_tokens: 0 },
          cost_details: { upstream_inference_cost: null },
          completion_tokens_details: { reasoning_tokens: 0 },
        },
      },
    });
    const outcome = await wire.client.completeChat({
      upstreamModel: "anthropic/claude-sonnet-4.5",
      modelMaxTokens: 64,
      request: hello,
      signal: signal(),
    });
    expect(outcome).toMatchObject({
      providerCostUsd: 0.000612,
      usage: { promptTokens: 194, completionTokens: 2, cacheReadTokens: 150 },
    });
  });
});

describe("azure_openai preset", () => {
  let fake: FakeAzureOpenAIServer;
  let wire: ReturnType<typeof createWireClient>;

  beforeAll(async () => {
    fake = await startFakeAzureOpenAIServer({
      apiKey: CONFORMANCE_API_KEY,
      deployments: ["chat-prod", "embed-prod"],
    });
    wire = createWireClient(
      providerSpec({
        id: "azure",
        provider_type: "azure_openai",
        endpoint: `${fake.endpoint}/`,
        api_version: "2024-10-21",
      }),
      CONFORMANCE_API_KEY,
    );
  });
  afterAll(async () => {
    await wire?.closeTransport();
    await fake?.close();
  });

  it("calls the deployment URL with api-version and the api-key header, not a bearer token", async () => {
    fake.reset();
    await wire.client.completeChat({
      upstreamModel: "chat-prod",
      modelMaxTokens: 64,
      request: hello,
      signal: signal(),
    });
    const [request] = fake.requests;
    expect(request).toMatchObject({ method: "POST", path: "/openai/deployments/chat-prod/chat/completions" });
    expect(request!.query.get("api-version")).toBe("2024-10-21");
    expect(request!.headers["api-key"]).toBe(CONFORMANCE_API_KEY);
    expect(request!.headers.authorization).toBeUndefined();
  });

  it("reports an unknown deployment as not_found, and embeds through the deployment", async () => {
    const error = await wire.client
      .completeChat({
        upstreamModel: "no-such-deployment",
        modelMaxTokens: 64,
        request: hello,
        signal: signal(),
      })
      .catch((caught: unknown) => caught as UpstreamError);
    expect(error).toMatchObject({ failure: "not_found", status: 404, providerCode: "DeploymentNotFound" });
    fake.reset();
    const outcome = await wire.client.generateEmbeddings!({
      upstreamModel: "embed-prod",
      inputs: ["a", "b"],
      signal: signal(),
    });
    expect(outcome.vectors).toHaveLength(2);
    expect(fake.requests[0]).toMatchObject({ path: "/openai/deployments/embed-prod/embeddings" });
  });
});

describe("the OpenAI fake refuses what OpenAI refuses", () => {
  let fake: FakeOpenAIServer;
  beforeAll(async () => {
    fake = await startFakeOpenAIServer({ apiKey: CONFORMANCE_API_KEY });
  });
  afterAll(() => fake?.close());

  const post = (body: unknown) =>
    fetch(`${fake.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${CONFORMANCE_API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then(async (response) => ({ status: response.status, body: await response.json() }));
  const hello = [{ role: "user", content: "Hi" }];

  it.each([
    [
      "max_tokens on a reasoning model",
      { model: "o3-mini", messages: hello, max_tokens: 10 },
      {
        message:
          "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        type: "invalid_request_error",
        param: "max_tokens",
        code: "unsupported_parameter",
      },
    ],
    [
      "OpenRouter's reasoning object",
      { model: "gpt-5", messages: hello, reasoning: { effort: "low" } },
      { message: "Unrecognized request argument supplied: reasoning", param: null },
    ],
    [
      "a file part without data or id",
      {
        model: "gpt-4o",
        messages: [{ role: "user", content: [{ type: "file", file: { filename: "a.pdf" } }] }],
      },
      { param: "messages[0].content[0].file", code: "missing_required_parameter" },
    ],
    [
      "an image in a system message",
      {
        model: "gpt-4o",
        messages: [
          { role: "system", content: [{ type: "image_url", image_url: { url: "https://x.test/a.png" } }] },
        ],
      },
      { param: "messages[0].content[0].type", code: "invalid_value" },
    ],
    [
      "a breakpoint on a text part",
      {
        model: "gpt-4o",
        messages: [
          { role: "user", content: [{ type: "text", text: "Hi", cache_control: { type: "ephemeral" } }] },
        ],
      },
      {
        message:
          "Additional properties are not allowed ('cache_control' was unexpected) - 'messages.0.content.0'",
      },
    ],
  ])("%s", async (_case, body, error) => {
    expect(await post(body)).toEqual({
      status: 400,
      body: { error: expect.objectContaining(error) as unknown },
    });
  });
});
