import type { CompleteChat } from "@llm-provider/contracts";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../domain/failure.js";
import { classifyOpenAIError } from "./classify-openai-error.js";
import { convertOpenAIChatResponse } from "./convert-openai-chat-response.js";
import { convertToOpenAIChatRequest } from "./convert-to-openai-chat-request.js";
import { mapOpenAIFinishReason } from "./map-openai-finish-reason.js";
import { openAIFlavourOf } from "./openai-flavour.js";

describe("convertToOpenAIChatRequest", () => {
  it("maps every role and passes only the settings the caller set", () => {
    const request: CompleteChat = {
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "weather in Oslo?", name: "ann" },
        {
          role: "assistant",
          content: null,
          function_call: { name: "weather", arguments: '{"city":"Oslo"}' },
        },
        { role: "function", name: "weather", content: '{"temp":3}' },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "call_1", content: "3 degrees" },
      ],
      temperature: 0.2,
      max_tokens: 50,
      stop: ["\n\n"],
      tools: [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }],
    };
    const upstreamModel = "gpt-4o-mini-2024-07-18";
    const { body, warnings } = convertToOpenAIChatRequest(
      { upstreamModel, request },
      { flavour: openAIFlavourOf("openai") },
    );
    expect(warnings).toEqual([]);
    // OpenAI's own API takes the cap as max_completion_tokens (GPT-5 and the o-series refuse max_tokens).
    expect(body).toEqual({
      model: "gpt-4o-mini-2024-07-18",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "weather in Oslo?", name: "ann" },
        {
          role: "assistant",
          content: null,
          function_call: { name: "weather", arguments: '{"city":"Oslo"}' },
        },
        { role: "function", name: "weather", content: '{"temp":3}' },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "call_1", content: "3 degrees" },
      ],
      temperature: 0.2,
      max_completion_tokens: 50,
      stop: ["\n\n"],
      tools: [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }],
    });
    // Other OpenAI-compatible servers keep the long-standing name.
    const compatible = convertToOpenAIChatRequest(
      { upstreamModel, request },
      { flavour: openAIFlavourOf("openai_compatible") },
    );
    expect(compatible.body).toMatchObject({ max_tokens: 50 });
    expect(compatible.body).not.toHaveProperty("max_completion_tokens");
  });
});

describe("convertToOpenAIChatRequest for LiteLLM and other OpenAI-compatible servers", () => {
  it("sends developer as system, max_tokens, reasoning_effort, and no breakpoints or OpenRouter fields", () => {
    const { body, warnings } = convertToOpenAIChatRequest(
      {
        upstreamModel: "claude-proxy",
        promptCaching: true,
        request: {
          model: "m",
          messages: [
            { role: "developer", content: "Be brief.", cache_control: { type: "ephemeral" } },
            { role: "user", content: [{ type: "text", text: "Hi", cache_control: { type: "ephemeral" } }] },
          ],
          max_completion_tokens: 100,
          thinking: { type: "enabled", budget_tokens: 5_000 },
          provider_preferences: { sort: "price" },
        },
      },
      { flavour: openAIFlavourOf("litellm") },
    );
    expect(body).toEqual({
      model: "claude-proxy",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "Hi" }] },
      ],
      max_tokens: 100,
      reasoning_effort: "high",
    });
    expect(warnings).toEqual([
      'thinking.budget_tokens is not supported by litellm; sent as reasoning_effort "high", the nearest effort to 5000 tokens',
      "provider_preferences is OpenRouter's and was not sent to litellm",
    ]);
  });

  it("throws a PDF URL off OpenRouter as a bug (the domain refuses it first)", () => {
    expect(() =>
      convertToOpenAIChatRequest(
        {
          upstreamModel: "gpt-4o",
          request: {
            model: "m",
            messages: [
              { role: "user", content: [{ type: "file", file: { file_url: "https://x.test/a.pdf" } }] },
            ],
          },
        },
        { flavour: openAIFlavourOf("openai") },
      ),
    ).toThrow(/messages\[0\]\.content\[0\] is a file by URL, which the openai wire cannot send/);
  });
});

describe("mapOpenAIFinishReason", () => {
  it.each([
    ["stop", "stop"],
    ["length", "length"],
    ["content_filter", "content_filter"],
    ["tool_calls", "function_call"],
    ["function_call", "function_call"],
    [null, "stop"],
    ["eos", "stop"],
  ] as const)("%s → %s", (raw, mapped) => {
    expect(mapOpenAIFinishReason(raw)).toBe(mapped);
  });
});

const wireResponse = {
  id: "chatcmpl-abc",
  object: "chat.completion",
  created: 1_764_000_000,
  model: "gpt-4o-mini-2024-07-18",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: "Hi!", refusal: null },
      logprobs: null,
      finish_reason: "stop",
    },
  ],
  usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
};

describe("convertOpenAIChatResponse", () => {
  it("keeps the raw finish reason beside the normalised one", () => {
    expect(convertOpenAIChatResponse(wireResponse)).toEqual({
      upstreamId: "chatcmpl-abc",
      responseModel: "gpt-4o-mini-2024-07-18",
      content: "Hi!",
      finishReason: "stop",
      rawFinishReason: "stop",
      usage: { promptTokens: 9, completionTokens: 2 },
      warnings: [],
    });
  });
  it("maps tool calls and a refusal", () => {
    const toolCall = { id: "call_9", type: "function", function: { name: "f", arguments: "{}" } };
    const withTools = structuredClone(wireResponse);
    withTools.choices[0]!.message = { role: "assistant", content: null, tool_calls: [toolCall] } as never;
    withTools.choices[0]!.finish_reason = "tool_calls";
    const outcome = convertOpenAIChatResponse(withTools);
    expect(outcome.finishReason).toBe("function_call");
    expect(outcome.rawFinishReason).toBe("tool_calls");
    expect(outcome.toolCalls).toEqual([toolCall]);

    const refusal = structuredClone(wireResponse);
    refusal.choices[0]!.message = {
      role: "assistant",
      content: null,
      refusal: "I can't help with that.",
    } as never;
    expect(convertOpenAIChatResponse(refusal)).toMatchObject({
      content: "I can't help with that.",
      finishReason: "content_filter",
    });
  });
  it("warns when usage is missing and rejects a body without choices", () => {
    const { usage: _usage, ...noUsage } = wireResponse;
    expect(convertOpenAIChatResponse(noUsage).warnings).toEqual([
      "provider did not report token usage; cost is 0",
    ]);
    expect(() => convertOpenAIChatResponse({ id: "x", choices: [] })).toThrow(UpstreamError);
    try {
      convertOpenAIChatResponse({ unexpected: true });
    } catch (error) {
      expect((error as UpstreamError).failure).toBe("malformed_response");
    }
  });
});

describe("classifyOpenAIError", () => {
  const now = Date.parse("2026-11-24T12:00:00Z");
  const apiError = (status: number, body: object, headers: Record<string, string> = {}) =>
    OpenAI.APIError.generate(status, { error: body }, undefined, new Headers(headers));

  it("reads retry-after from a 429", () => {
    const classified = classifyOpenAIError(
      apiError(
        429,
        { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" },
        { "retry-after": "3" },
      ),
      now,
    );
    expect(classified).toMatchObject({ failure: "rate_limited", status: 429, retryAfterMs: 3000 });
    expect(classified?.message).toBe("provider answered 429: Rate limit reached");
  });
  it("recognises context window and content filter errors", () => {
    const context = apiError(400, {
      message: "This model's maximum context length is 8192 tokens.",
      type: "invalid_request_error",
      code: "context_length_exceeded",
    });
    expect(classifyOpenAIError(context, now)?.failure).toBe("context_window_exceeded");
    const filtered = apiError(400, { message: "filtered", type: null, code: "content_filter" });
    expect(classifyOpenAIError(filtered, now)?.failure).toBe("content_filter");
    const plain = apiError(400, { message: "bad temperature", type: "invalid_request_error", code: null });
    expect(classifyOpenAIError(plain, now)?.failure).toBe("bad_request");
  });
  it("classifies status codes, connection failures and timeouts", () => {
    expect(classifyOpenAIError(apiError(401, { message: "Incorrect API key" }), now)?.failure).toBe("auth");
    expect(classifyOpenAIError(apiError(503, { message: "busy" }), now)?.failure).toBe("overloaded");
    expect(classifyOpenAIError(apiError(500, { message: "oops" }), now)?.failure).toBe("server_error");
    expect(classifyOpenAIError(new OpenAI.APIConnectionError({ message: "reset" }), now)?.failure).toBe(
      "connection",
    );
    expect(classifyOpenAIError(new OpenAI.APIConnectionTimeoutError(), now)?.failure).toBe("timeout");
    expect(classifyOpenAIError(new SyntaxError("Unexpected token"), now)?.failure).toBe("malformed_response");
  });
  it("leaves our own bugs and user aborts unclassified", () => {
    expect(classifyOpenAIError(new TypeError("x is undefined"), now)).toBeUndefined();
    expect(classifyOpenAIError(new OpenAI.APIUserAbortError(), now)).toBeUndefined();
  });
});

describe("convertOpenAIChatResponse: reported cost and cache counts", () => {
  it("reads OpenRouter's usage.cost and the cached prompt tokens", () => {
    const outcome = convertOpenAIChatResponse({
      ...wireResponse,
      usage: {
        prompt_tokens: 194,
        completion_tokens: 2,
        total_tokens: 196,
        cost: 0.000612,
        prompt_tokens_details: { cached_tokens: 150, cache_write_tokens: 40 },
      },
    });
    expect(outcome.providerCostUsd).toBe(0.000612);
    expect(outcome.usage).toEqual({
      promptTokens: 194,
      completionTokens: 2,
      cacheReadTokens: 150,
      cacheWriteTokens: 40,
    });
    expect(convertOpenAIChatResponse(wireResponse)).not.toHaveProperty("providerCostUsd");
  });
});
