// Issue 21 on the Anthropic wire, through its ProviderClient against the fake Messages API (which
// checks sources, breakpoints and thinking as the API does): content parts, prompt caching, extended
// thinking and its signed round trip, parallel tool calls, and the cache counts of the usage —
// streamed and not.
import type { CompleteChat, ThinkingBlock } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { UpstreamError } from "../../services/llm-provider/src/domain/failure.js";
import type {
  ChatOutcome,
  ChatStreamPart,
  ProviderClient,
} from "../../services/llm-provider/src/ports/provider-client.js";
import { startFakeAnthropicServer, type FakeAnthropicServer } from "../fakes/anthropic-server.js";
import { SAMPLE_MEDIA } from "./anthropic-wire-session.js";
import { CONFORMANCE_API_KEY, createWireClient, providerSpec } from "./wire-session.js";

let fake: FakeAnthropicServer;
let client: ProviderClient;
let closeTransport: () => Promise<void>;

beforeAll(async () => {
  fake = await startFakeAnthropicServer({ apiKey: CONFORMANCE_API_KEY });
  ({ client, closeTransport } = createWireClient(
    providerSpec({ id: "anthropic", provider_type: "anthropic", endpoint: fake.baseUrl }),
    CONFORMANCE_API_KEY,
  ));
});
afterAll(async () => {
  await closeTransport?.();
  await fake?.close();
});
beforeEach(() => fake.reset());

type Request = Omit<CompleteChat, "model">;
const call = (request: Request, promptCaching = true) => ({
  upstreamModel: "claude-sonnet-5-5",
  modelMaxTokens: 8_192,
  request: { model: "claude", ...request },
  promptCaching,
  signal: new AbortController().signal,
});
const chat = (request: Request, promptCaching = true) => client.completeChat(call(request, promptCaching));
/** The streamed answer: its deltas' content and reasoning joined, and its end part. */
async function stream(request: Request, promptCaching = true) {
  let content = "";
  let reasoning = "";
  let reasoningDeltas = 0;
  let end: Extract<ChatStreamPart, { type: "end" }>["end"] | undefined;
  for await (const part of client.streamChat!(call(request, promptCaching))) {
    if (part.type === "end") end = part.end;
    else {
      content += part.delta.content ?? "";
      if (part.delta.reasoning !== undefined) reasoningDeltas++;
      reasoning += part.delta.reasoning ?? "";
    }
  }
  return { content, reasoning, reasoningDeltas, end: end! };
}
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as UpstreamError,
  );
const sent = (at = -1) => fake.requests.at(at)!.body as Record<string, unknown>;
const EPHEMERAL = { type: "ephemeral" } as const;
const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
};

describe("anthropic wire: content parts", () => {
  it("maps text, images (data and URL), PDFs, plain-text files and file URLs to Anthropic blocks", async () => {
    const outcome = await chat({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Compare these", cache_control: EPHEMERAL },
            { type: "image_url", image_url: { url: `data:image/png;base64,${SAMPLE_MEDIA.png}` } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "high" } },
            {
              type: "file",
              file: { file_data: `data:application/pdf;base64,${SAMPLE_MEDIA.pdf}`, filename: "q3.pdf" },
            },
            {
              type: "file",
              file: {
                file_data: `data:text/plain;base64,${Buffer.from(SAMPLE_MEDIA.text).toString("base64")}`,
              },
            },
            { type: "file", file: { file_url: "https://example.com/report.pdf" } },
          ],
        },
      ],
    });
    expect(sent()["messages"]).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "Compare these", cache_control: EPHEMERAL },
          { type: "image", source: { type: "base64", media_type: "image/png", data: SAMPLE_MEDIA.png } },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
          {
            type: "document",
            source: { type: "base64", media_type: "application/pdf", data: SAMPLE_MEDIA.pdf },
            title: "q3.pdf",
          },
          { type: "document", source: { type: "text", media_type: "text/plain", data: SAMPLE_MEDIA.text } },
          { type: "document", source: { type: "url", url: "https://example.com/report.pdf" } },
        ],
      },
    ]);
    expect(outcome.finishReason).toBe("stop");
  });

  it("sends a tool result with parts as a tool_result whose content is those blocks", async () => {
    await chat({
      messages: [
        { role: "user", content: "Show me the chart" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "toolu_1", type: "function", function: { name: "chart", arguments: "{}" } }],
        },
        {
          role: "tool",
          tool_call_id: "toolu_1",
          content: [
            { type: "text", text: "Here it is" },
            { type: "image_url", image_url: { url: `data:image/jpeg;base64,${SAMPLE_MEDIA.jpeg}` } },
          ],
        },
      ],
      tools: [{ type: "function", function: { name: "chart" } }],
    });
    expect((sent()["messages"] as unknown[])[2]).toEqual({
      role: "user",
      content: [
        {
          type: "tool_result",
          tool_use_id: "toolu_1",
          content: [
            { type: "text", text: "Here it is" },
            { type: "image", source: { type: "base64", media_type: "image/jpeg", data: SAMPLE_MEDIA.jpeg } },
          ],
        },
      ],
    });
  });

  it("is refused, as by the API, when an image's bytes are not its media type", async () => {
    const error = await failureOf(
      chat({
        messages: [
          {
            role: "user",
            content: [
              { type: "image_url", image_url: { url: `data:image/png;base64,${SAMPLE_MEDIA.jpeg}` } },
            ],
          },
        ],
      }),
    );
    expect(error).toMatchObject({
      failure: "bad_request",
      status: 400,
      providerCode: "invalid_request_error",
    });
    expect(error?.message).toContain(
      "messages.0.content.0.image.source.base64.data: The image was specified using the image/png media type, but the image appears to be a image/jpeg image",
    );
  });
});

describe("anthropic wire: prompt caching", () => {
  const cachedRequest: Request = {
    messages: [
      { role: "developer", content: "You are terse.", cache_control: EPHEMERAL },
      { role: "user", content: [{ type: "text", text: "Summarise the contract" }], cache_control: EPHEMERAL },
    ],
    tools: [{ ...weatherTool, cache_control: { type: "ephemeral", ttl: "1h" } }],
  };

  it("puts breakpoints on system blocks, a message's last block and tool definitions", async () => {
    await chat(cachedRequest);
    const body = sent();
    expect(body["system"]).toEqual([{ type: "text", text: "You are terse.", cache_control: EPHEMERAL }]);
    expect(body["messages"]).toEqual([
      { role: "user", content: [{ type: "text", text: "Summarise the contract", cache_control: EPHEMERAL }] },
    ]);
    expect((body["tools"] as { cache_control?: unknown }[])[0]!.cache_control).toEqual({
      type: "ephemeral",
      ttl: "1h",
    });
  });

  it("strips every breakpoint when the model takes none, and sends developer as a plain system string", async () => {
    await chat(cachedRequest, false);
    const body = sent();
    expect(JSON.stringify(body)).not.toContain("cache_control");
    expect(body["system"]).toBe("You are terse.");
  });

  it("prompt_cache auto adds breakpoints after the tools, the system prompt and the last user turns", async () => {
    await chat({
      prompt_cache: "auto",
      messages: [
        { role: "system", content: "Long policy text" },
        { role: "user", content: "First question" },
        { role: "assistant", content: "First answer" },
        { role: "user", content: "Second question" },
      ],
      tools: [weatherTool],
    });
    const body = sent();
    expect((body["tools"] as { cache_control?: unknown }[])[0]!.cache_control).toEqual(EPHEMERAL);
    expect(body["system"]).toEqual([{ type: "text", text: "Long policy text", cache_control: EPHEMERAL }]);
    const turns = body["messages"] as { content: { cache_control?: unknown }[] }[];
    expect(turns.map((turn) => turn.content[0]!.cache_control)).toEqual([EPHEMERAL, undefined, EPHEMERAL]);
  });

  it("reports the write, then the read of the same prefix, counted into the prompt", async () => {
    const request: Request = {
      prompt_cache: "auto",
      messages: [{ role: "user", content: "A long shared prefix" }],
    };
    const first = await chat(request);
    expect(first.usage!.cacheWriteTokens).toBeGreaterThan(0);
    expect(first.usage!.cacheReadTokens).toBeUndefined();
    const second = await chat(request);
    expect(second.usage!.cacheReadTokens).toBe(first.usage!.cacheWriteTokens);
    expect(second.usage!.cacheWriteTokens).toBeUndefined();
    expect(second.usage!.promptTokens).toBe(first.usage!.promptTokens);
    const streamed = await stream(request);
    expect(streamed.end.usage).toEqual(second.usage);
  });

  it("is refused, as by the API, past four breakpoints", async () => {
    const error = await failureOf(
      chat({
        messages: [
          {
            role: "user",
            content: ["a", "b", "c", "d", "e"].map((text) => ({
              type: "text" as const,
              text,
              cache_control: EPHEMERAL,
            })),
          },
        ],
      }),
    );
    expect(error).toMatchObject({ failure: "bad_request", status: 400 });
    expect(error?.message).toContain("A maximum of 4 blocks with cache_control may be provided. Found 5.");
  });
});

describe("anthropic wire: thinking", () => {
  const ask: Request["messages"] = [{ role: "user", content: "Is 97 prime?" }];

  it("maps thinking and reasoning_effort to a budget under max_tokens", async () => {
    const thinkingOf = async (request: Request) => {
      const outcome = await chat(request);
      return { thinking: sent()["thinking"], warnings: outcome.warnings };
    };
    expect(await thinkingOf({ messages: ask, thinking: { type: "enabled", budget_tokens: 3_000 } })).toEqual({
      thinking: { type: "enabled", budget_tokens: 3_000 },
      warnings: [],
    });
    expect((await thinkingOf({ messages: ask, reasoning_effort: "minimal" })).thinking).toEqual({
      type: "enabled",
      budget_tokens: 1_024,
    });
    expect((await thinkingOf({ messages: ask, reasoning_effort: "medium" })).thinking).toEqual({
      type: "enabled",
      budget_tokens: 2_048,
    });
    expect(
      (await thinkingOf({ messages: ask, reasoning_effort: "high", max_completion_tokens: 2_000 })).thinking,
    ).toEqual({ type: "enabled", budget_tokens: 1_999 });
    expect(sent()["max_tokens"]).toBe(2_000);
    expect((await thinkingOf({ messages: ask, reasoning_effort: "none" })).thinking).toBeUndefined();
    expect((await thinkingOf({ messages: ask, thinking: { type: "disabled" } })).thinking).toEqual({
      type: "disabled",
    });
    const tooSmall = await thinkingOf({ messages: ask, reasoning_effort: "low", max_tokens: 1_000 });
    expect(tooSmall.thinking).toBeUndefined();
    expect(tooSmall.warnings).toEqual([
      "reasoning_effort 'low' was not sent: Anthropic needs a thinking budget of at least 1024 tokens below max_tokens, and max_tokens is 1000",
    ]);
  });

  it("returns the reasoning and the signed blocks, streamed as reasoning deltas", async () => {
    fake.setReply({ text: "Yes.", thinking: "97 has no divisor up to its root.", redactedThinking: true });
    const request: Request = { messages: ask, reasoning_effort: "low" };
    const outcome = await chat(request);
    expect(outcome.content).toBe("Yes.");
    expect(outcome.reasoning).toBe("97 has no divisor up to its root.");
    expect(outcome.thinkingBlocks).toEqual([
      { type: "thinking", thinking: "97 has no divisor up to its root.", signature: expect.any(String) },
      { type: "redacted_thinking", data: expect.any(String) },
    ]);
    // output_tokens_details.thinking_tokens: the thinking text at the fake's 4 characters a token
    expect(outcome.usage?.reasoningTokens).toBe(Math.ceil("97 has no divisor up to its root.".length / 4));
    const streamed = await stream(request);
    expect(streamed.content).toBe("Yes.");
    expect(streamed.reasoning).toBe("97 has no divisor up to its root.");
    expect(streamed.reasoningDeltas).toBeGreaterThan(1);
    expect(streamed.end.thinkingBlocks).toHaveLength(2);
    expect(streamed.end.thinkingBlocks![0]).toMatchObject({ type: "thinking", thinking: outcome.reasoning });
  });

  describe("a tool call continued over two turns", () => {
    const turnOne: Request = {
      messages: [{ role: "user", content: "Weather in Oslo?" }],
      tools: [weatherTool],
      reasoning_effort: "low",
    };
    const turnTwo = (first: ChatOutcome, blocks: ThinkingBlock[] | undefined): Request => ({
      ...turnOne,
      messages: [
        ...turnOne.messages,
        {
          role: "assistant",
          content: first.content,
          tool_calls: first.toolCalls!,
          ...(blocks ? { thinking_blocks: blocks } : {}),
        },
        { role: "tool", tool_call_id: first.toolCalls![0]!.id, content: "4 °C, rain" },
      ],
    });
    const firstTurn = async () => {
      fake.setReply({ text: null, toolUses: [{ name: "get_weather", input: { city: "Oslo" } }] });
      const first = await chat(turnOne);
      fake.setReply({ text: "Rainy, 4 °C." });
      return first;
    };

    it("sends the signed thinking back first in the assistant turn, and the API takes it", async () => {
      const first = await firstTurn();
      expect(first.thinkingBlocks).toHaveLength(1);
      const second = await chat(turnTwo(first, first.thinkingBlocks));
      expect(second.content).toBe("Rainy, 4 °C.");
      const assistant = (sent()["messages"] as { content: { type: string }[] }[])[1]!;
      expect(assistant.content[0]).toEqual(first.thinkingBlocks![0]);
      expect(assistant.content.map((block) => block.type)).toEqual(["thinking", "tool_use"]);
      const streamed = await stream(turnTwo(first, first.thinkingBlocks));
      expect(streamed.content).toBe("Rainy, 4 °C.");
    });

    it("is refused without the thinking block, or with it altered", async () => {
      const first = await firstTurn();
      const missing = await failureOf(chat(turnTwo(first, undefined)));
      expect(missing?.message).toContain(
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`",
      );
      const block = first.thinkingBlocks![0]!;
      const altered = {
        ...block,
        thinking: `${block.type === "thinking" ? block.thinking : ""} (edited)`,
      } as ThinkingBlock;
      const forged = await failureOf(chat(turnTwo(first, [altered])));
      expect(forged?.message).toContain("messages.1.content.0: Invalid `signature` in `thinking` block");
    });
  });
});

describe("anthropic wire: other settings", () => {
  it("parallel_tool_calls false disables parallel tool use on the tool choice", async () => {
    await chat({
      messages: [{ role: "user", content: "hi" }],
      tools: [weatherTool],
      parallel_tool_calls: false,
    });
    expect(sent()["tool_choice"]).toEqual({ type: "auto", disable_parallel_tool_use: true });
    await chat({
      messages: [{ role: "user", content: "hi" }],
      tools: [weatherTool],
      tool_choice: "required",
      parallel_tool_calls: false,
    });
    expect(sent()["tool_choice"]).toEqual({ type: "any", disable_parallel_tool_use: true });
  });

  it("does not send provider_preferences, and says so", async () => {
    const outcome = await chat({
      messages: [{ role: "user", content: "hi" }],
      provider_preferences: { order: ["x"] },
    });
    expect(sent()).not.toHaveProperty("provider_preferences");
    expect(outcome.warnings).toEqual([
      "provider_preferences is OpenRouter's provider routing; Anthropic does not take it and it was not sent",
    ]);
  });
});
