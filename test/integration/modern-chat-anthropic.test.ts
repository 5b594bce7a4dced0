// Issue 21 over NATS through the real service to the Anthropic fake (which checks image and
// document sources, breakpoints and signed thinking as the Messages API does): an image, a PDF,
// reasoning with a tool call continued over two turns, and a prompt cached then read — each asked
// with complete_chat and with stream_chat.
import type { ChatMessage, CompleteChatInput } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SAMPLE_MEDIA } from "../conformance/anthropic-wire-session.js";
import { startFakeAnthropicServer, type FakeAnthropicServer } from "../fakes/anthropic-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import { multiWireConfig, startTestService, type TestService } from "../support/service.js";
import { askChat, CHAT_MODES, type ChatAnswer, type ChatMode } from "../support/chat-answer.js";

const ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef";
const PRICES = {
  input_per_million: 3,
  output_per_million: 15,
  cache_read_per_million: 0.3,
  cache_write_per_million: 3.75,
};

let nats: NatsServerHandle;
let anthropic: FakeAnthropicServer;
let service: TestService;

beforeAll(async () => {
  [nats, anthropic] = await Promise.all([
    startNatsServer(),
    startFakeAnthropicServer({ apiKey: ANTHROPIC_KEY }),
  ]);
  const config = multiWireConfig(nats.url, [
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
        max_tokens: 8_192,
        cost: PRICES,
        features: {
          chat: true,
          function_calling: true,
          streaming: true,
          vision: true,
          files: true,
          reasoning: true,
          prompt_caching: true,
        },
      },
    },
  ]);
  service = await startTestService(config, { ANTHROPIC_KEY });
});
afterAll(async () => {
  await service?.stop();
  await anthropic?.close();
  await nats?.stop();
});
beforeEach(() => anthropic.reset());

function ask(mode: ChatMode, request: Omit<CompleteChatInput, "model">): Promise<ChatAnswer> {
  return askChat(service.client, mode, { model: "claude", ...request });
}

type SentTurn = { role: string; content: { type: string; [field: string]: unknown }[] };
const sentTurns = (at = -1) => (anthropic.requests.at(at)!.body as { messages: SentTurn[] }).messages;

describe.each(CHAT_MODES)("Anthropic over NATS, %s", (mode) => {
  it("takes an image and sends it as a base64 image block", async () => {
    anthropic.setReply({ text: "A one-pixel PNG." });
    const answer = await ask(mode, {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${SAMPLE_MEDIA.png}` } },
          ],
        },
      ],
    });
    expect(answer.content).toBe("A one-pixel PNG.");
    expect(sentTurns()[0]!.content[1]).toEqual({
      type: "image",
      source: { type: "base64", media_type: "image/png", data: SAMPLE_MEDIA.png },
    });
  });

  it("takes a PDF and sends it as a document block titled with its file name", async () => {
    anthropic.setReply({ text: "An empty report." });
    const answer = await ask(mode, {
      messages: [
        {
          role: "user",
          content: [
            {
              type: "file",
              file: { file_data: `data:application/pdf;base64,${SAMPLE_MEDIA.pdf}`, filename: "q3.pdf" },
            },
            { type: "text", text: "Summarise it" },
          ],
        },
      ],
    });
    expect(answer.content).toBe("An empty report.");
    expect(sentTurns()[0]!.content[0]).toEqual({
      type: "document",
      source: { type: "base64", media_type: "application/pdf", data: SAMPLE_MEDIA.pdf },
      title: "q3.pdf",
    });
  });

  it("reasons through a tool call over two turns, sending the signed thinking back", async () => {
    const weather = {
      type: "function" as const,
      function: {
        name: "get_weather",
        parameters: { type: "object", properties: { city: { type: "string" } } },
      },
    };
    const question: ChatMessage = { role: "user", content: "Weather in Oslo?" };
    const thinking = "The user wants the weather in Oslo; I should call get_weather.";
    anthropic.setReply({
      text: null,
      thinking,
      toolUses: [{ name: "get_weather", input: { city: "Oslo" } }],
    });
    const first = await ask(mode, { messages: [question], tools: [weather], reasoning_effort: "low" });
    expect(first.reasoning).toBe(thinking);
    if (mode === "stream_chat") expect(first.reasoningChunks).toBeGreaterThan(1);
    expect(first.thinkingBlocks).toEqual([{ type: "thinking", thinking, signature: expect.any(String) }]);
    expect(first.toolCalls).toEqual([
      {
        id: expect.any(String),
        type: "function",
        function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
      },
    ]);
    // Thinking is part of output_tokens; the API reports it apart (output_tokens_details), priced
    // at the output price as the model sets none of its own.
    const thinkingTokens = Math.ceil(thinking.length / 4);
    expect(first.usage.reasoning_tokens).toBe(thinkingTokens);
    expect(first.usage.cost.reasoning).toBeCloseTo((thinkingTokens * PRICES.output_per_million) / 1e6, 12);
    expect(anthropic.requests.at(-1)!.body).toMatchObject({
      thinking: { type: "enabled", budget_tokens: 1_024 },
    });

    anthropic.setReply({ text: "It is 4 °C and raining in Oslo." });
    const second = await ask(mode, {
      messages: [
        question,
        {
          role: "assistant",
          content: null,
          tool_calls: first.toolCalls!,
          thinking_blocks: first.thinkingBlocks!,
        },
        { role: "tool", tool_call_id: first.toolCalls![0]!.id, content: "4 °C, rain" },
      ],
      tools: [weather],
      reasoning_effort: "low",
    });
    // The fake answers only when the assistant turn starts with the block it signed, unaltered.
    expect(second.content).toBe("It is 4 °C and raining in Oslo.");
    expect(sentTurns()[1]!.content.map((block) => block.type)).toEqual(["thinking", "tool_use"]);
    expect(sentTurns()[1]!.content[0]).toEqual(first.thinkingBlocks![0]);
    expect(second.usage.reasoning_tokens).toBe(Math.ceil(second.reasoning!.length / 4));
  });

  it("caches a prompt, and the second request reads it and is priced at the cache-read price", async () => {
    const rules = `House rules for ${mode}: ${"be exact. ".repeat(40)}`;
    const request = {
      prompt_cache: "auto" as const,
      messages: [
        { role: "system" as const, content: rules },
        { role: "user" as const, content: "What are the rules?" },
      ],
    };
    const first = await ask(mode, request);
    expect(first.usage.cache_write_tokens).toBeGreaterThan(0);
    expect(first.usage.cached_input_tokens).toBe(0);
    const second = await ask(mode, request);
    const cached = second.usage.cached_input_tokens;
    expect(cached).toBe(first.usage.cache_write_tokens);
    expect(second.usage.prompt_tokens).toBe(first.usage.prompt_tokens);
    expect(second.usage.cost.cache_read ?? Number.NaN).toBeCloseTo(
      (cached * PRICES.cache_read_per_million) / 1e6,
      12,
    );
    expect(second.usage.cost.input).toBeLessThan(first.usage.cost.input);
    const body = anthropic.requests.at(-1)!.body as { system: unknown };
    expect(body.system).toEqual([{ type: "text", text: rules, cache_control: { type: "ephemeral" } }]);
  });
});
