// Issue 21 over NATS through the real service to the OpenAI and OpenRouter fakes (which refuse what
// the APIs refuse: max_tokens on GPT-5, parts of the wrong shape, OpenRouter's fields on OpenAI): an
// image, a PDF, a GPT-5 reasoning request continued over two turns with a tool call, a prompt
// cached then read, and OpenRouter's reasoning and reported cost — each with complete_chat and
// stream_chat.
import type { CompleteChatInput } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SAMPLE_MEDIA } from "../conformance/anthropic-wire-session.js";
import { openRouterCost, startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import { multiWireConfig, startTestService, TEST_API_KEY, type TestService } from "../support/service.js";
import { askChat, CHAT_MODES, type ChatAnswer, type ChatMode } from "../support/chat-answer.js";

const FEATURES = {
  chat: true,
  function_calling: true,
  streaming: true,
  vision: true,
  files: true,
  reasoning: true,
  prompt_caching: true,
};
const GPT_PRICES = { input_per_million: 0.15, output_per_million: 0.6, cache_read_per_million: 0.075 };
const GPT5_PRICES = { input_per_million: 0.25, output_per_million: 2, reasoning_per_million: 2 };
/** About 1,500 tokens by the fakes' count: long enough for a prompt cache. */
const LONG_SYSTEM = "You answer questions about the staff handbook. ".repeat(130);

let nats: NatsServerHandle;
let openai: FakeOpenAIServer;
let openrouter: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  [nats, openai, openrouter] = await Promise.all([
    startNatsServer(),
    startFakeOpenAIServer({ apiKey: TEST_API_KEY }),
    startFakeOpenAIServer({ apiKey: TEST_API_KEY, flavour: "openrouter" }),
  ]);
  const key = { api_key_ref: "env:TEST_OPENAI_KEY" };
  const config = multiWireConfig(nats.url, [
    {
      provider: { id: "openai", provider_type: "openai", endpoint: openai.baseUrl, ...key },
      model: { model_name: "gpt", upstream_model: "gpt-4o-mini", cost: GPT_PRICES, features: FEATURES },
    },
    {
      provider: { id: "openai-reasoning", provider_type: "openai", endpoint: openai.baseUrl, ...key },
      model: { model_name: "gpt-5", upstream_model: "gpt-5-mini", cost: GPT5_PRICES, features: FEATURES },
    },
    {
      provider: { id: "openrouter", provider_type: "openrouter", endpoint: openrouter.baseUrl, ...key },
      model: {
        model_name: "router",
        upstream_model: "anthropic/claude-sonnet-4.5",
        cost: { input_per_million: 3, output_per_million: 15 },
        features: FEATURES,
      },
    },
  ]);
  service = await startTestService(config);
});
afterAll(async () => {
  await service?.stop();
  await Promise.all([openai?.close(), openrouter?.close()]);
  await nats?.stop();
});
beforeEach(() => {
  openai.reset();
  openrouter.reset();
});

function ask(mode: ChatMode, request: CompleteChatInput): Promise<ChatAnswer> {
  return askChat(service.client, mode, request);
}

const sent = (fake: FakeOpenAIServer, at = -1) => fake.requests.at(at)!.body as Record<string, unknown>;
const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
};

describe.each(CHAT_MODES)("OpenAI over NATS, %s", (mode) => {
  it("takes an image and sends it as an image_url part", async () => {
    const image = `data:image/png;base64,${SAMPLE_MEDIA.png}`;
    openai.setChatReply({ content: "A one-pixel PNG." });
    const answer = await ask(mode, {
      model: "gpt",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: image, detail: "low" } },
          ],
        },
      ],
    });
    expect(answer.content).toBe("A one-pixel PNG.");
    expect(sent(openai).messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: image, detail: "low" } },
        ],
      },
    ]);
  });

  it("takes a PDF and sends it as a file part with a filename", async () => {
    const pdf = `data:application/pdf;base64,${SAMPLE_MEDIA.pdf}`;
    openai.setChatReply({ content: "An empty report." });
    const answer = await ask(mode, {
      model: "gpt",
      messages: [{ role: "user", content: [{ type: "file", file: { file_data: pdf } }] }],
    });
    expect(answer.content).toBe("An empty report.");
    expect(sent(openai).messages).toEqual([
      { role: "user", content: [{ type: "file", file: { filename: "document.pdf", file_data: pdf } }] },
    ]);
  });

  it("asks GPT-5 with the caller's max_tokens as max_completion_tokens, over two turns with a tool call", async () => {
    const toolCall = {
      id: "call_weather_1",
      type: "function" as const,
      function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
    };
    openai.setChatReply({ content: null, tool_calls: [toolCall] });
    const question = { role: "user" as const, content: "Should I take an umbrella in Oslo?" };
    const first = await ask(mode, {
      model: "gpt-5",
      messages: [{ role: "developer", content: "Check the weather first." }, question],
      tools: [weatherTool],
      max_tokens: 600,
      reasoning_effort: "low",
    });
    expect(sent(openai)).toMatchObject({
      model: "gpt-5-mini",
      max_completion_tokens: 600,
      reasoning_effort: "low",
      messages: [{ role: "developer", content: "Check the weather first." }, question],
    });
    expect(sent(openai)).not.toHaveProperty("max_tokens");
    expect(first.toolCalls).toEqual([toolCall]);
    // The fake's low effort: 64 reasoning tokens, part of the completion and priced apart.
    expect(first.usage.reasoning_tokens).toBe(64);
    expect(first.usage.completion_tokens).toBeGreaterThan(64);
    expect(first.usage.cost.reasoning).toBeCloseTo((64 * GPT5_PRICES.reasoning_per_million) / 1e6, 12);

    openai.setChatReply({ content: "Yes: rain all day." });
    const second = await ask(mode, {
      model: "gpt-5",
      messages: [
        question,
        { role: "assistant", content: null, tool_calls: [toolCall] },
        { role: "tool", tool_call_id: toolCall.id, content: [{ type: "text", text: "Rain, 9°C" }] },
      ],
      tools: [weatherTool],
      max_tokens: 600,
      reasoning_effort: "low",
    });
    expect(second.content).toBe("Yes: rain all day.");
    expect(sent(openai).messages).toEqual([
      question,
      { role: "assistant", content: null, tool_calls: [toolCall] },
      { role: "tool", tool_call_id: toolCall.id, content: [{ type: "text", text: "Rain, 9°C" }] },
    ]);
    expect(second.usage.reasoning_tokens).toBe(64);
  });

  it("reports OpenAI's automatic prompt cache on the second send, priced at the cache-read price", async () => {
    const request: CompleteChatInput = {
      model: "gpt",
      messages: [
        { role: "system", content: LONG_SYSTEM },
        { role: "user", content: "How many days of leave?" },
      ],
    };
    const first = await ask(mode, request);
    expect(first.usage.cached_input_tokens).toBe(0);
    const second = await ask(mode, request);
    const cached = second.usage.cached_input_tokens;
    expect(cached).toBeGreaterThan(0);
    expect(cached % 128).toBe(0);
    expect(second.usage.cost.cache_read).toBeCloseTo((cached * GPT_PRICES.cache_read_per_million) / 1e6, 12);
    const uncached = second.usage.prompt_tokens - cached;
    expect(second.usage.cost.input).toBeCloseTo(
      (uncached * GPT_PRICES.input_per_million + cached * GPT_PRICES.cache_read_per_million) / 1e6,
      12,
    );
  });
});

describe.each(CHAT_MODES)("OpenRouter over NATS, %s", (mode) => {
  it("returns the reasoning apart and the cost OpenRouter reports, with its cache counts", async () => {
    openrouter.setChatReply({ content: "Twenty-five days.", reasoning: "The handbook lists leave." });
    const request: CompleteChatInput = {
      model: "router",
      messages: [
        { role: "system", content: LONG_SYSTEM, cache_control: { type: "ephemeral" } },
        { role: "user", content: "How many days of leave?" },
      ],
      reasoning_effort: "medium",
      provider_preferences: { sort: "price" },
    };
    const first = await ask(mode, request);
    expect(sent(openrouter)).toMatchObject({ reasoning: { effort: "medium" }, provider: { sort: "price" } });
    expect(first.content).toBe("Twenty-five days.");
    expect(first.reasoning).toBe("The handbook lists leave.");
    if (mode === "stream_chat") expect(first.reasoningChunks).toBe(4);
    expect(first.usage.cache_write_tokens).toBeGreaterThanOrEqual(1_024);
    expect(first.usage.reasoning_tokens).toBe(4);

    const second = await ask(mode, request);
    const { usage } = second;
    expect(usage.cached_input_tokens).toBe(first.usage.cache_write_tokens);
    // The total is what OpenRouter billed, not the configured prices.
    const reported = openRouterCost({
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      reasoningTokens: usage.reasoning_tokens,
      cache: { cachedTokens: usage.cached_input_tokens, cacheWriteTokens: 0 },
    });
    expect(usage.cost.total).toBeCloseTo(reported, 9);
    expect(usage.cost.total).toBeLessThan(first.usage.cost.total);
  });
});
