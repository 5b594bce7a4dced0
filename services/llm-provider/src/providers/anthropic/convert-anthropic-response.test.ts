import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../domain/failure.js";
import { convertAnthropicResponse } from "./convert-anthropic-response.js";
import { mapAnthropicStopReason } from "./map-anthropic-stop-reason.js";

const wireMessage = {
  id: "msg_01XFDUDYJgAACzvnptvVoYEL",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-5-5",
  content: [{ type: "text", text: "Hello!", citations: null }],
  stop_reason: "end_turn",
  stop_sequence: null,
  stop_details: null,
  container: null,
  diagnostics: null,
  usage: {
    input_tokens: 12,
    output_tokens: 6,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: null,
    inference_geo: null,
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: "standard",
    speed: null,
  },
};

describe("mapAnthropicStopReason", () => {
  it.each([
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["model_context_window_exceeded", "length"],
    ["tool_use", "function_call"],
    ["refusal", "content_filter"],
    ["pause_turn", "stop"],
    [null, "stop"],
  ] as const)("%s → %s", (raw, mapped) => {
    expect(mapAnthropicStopReason(raw)).toBe(mapped);
  });
});

describe("convertAnthropicResponse", () => {
  it("keeps the raw stop reason beside the normalised one", () => {
    expect(convertAnthropicResponse(wireMessage, false)).toEqual({
      upstreamId: "msg_01XFDUDYJgAACzvnptvVoYEL",
      responseModel: "claude-sonnet-5-5",
      content: "Hello!",
      finishReason: "stop",
      rawFinishReason: "end_turn",
      usage: { promptTokens: 12, completionTokens: 6 },
      warnings: [],
    });
  });

  it("counts cached prompt tokens into the prompt and keeps them apart", () => {
    const cached = {
      ...wireMessage,
      usage: { ...wireMessage.usage, cache_creation_input_tokens: 100, cache_read_input_tokens: 2_000 },
    };
    expect(convertAnthropicResponse(cached, false).usage).toEqual({
      promptTokens: 2_112,
      completionTokens: 6,
      cacheReadTokens: 2_000,
      cacheWriteTokens: 100,
    });
  });

  it("returns tool_use blocks as tool calls, or as the legacy function_call", () => {
    const toolUse = {
      ...wireMessage,
      content: [
        { type: "thinking", thinking: "…", signature: "sig" },
        { type: "tool_use", id: "toolu_01A", name: "weather", input: { city: "Oslo" } },
        { type: "tool_use", id: "toolu_01B", name: "weather", input: { city: "Rome" } },
      ],
      stop_reason: "tool_use",
    };
    const modern = convertAnthropicResponse(toolUse, false);
    expect(modern).toMatchObject({
      content: null,
      finishReason: "function_call",
      rawFinishReason: "tool_use",
    });
    expect(modern.toolCalls).toEqual([
      { id: "toolu_01A", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } },
      { id: "toolu_01B", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } },
    ]);
    const legacy = convertAnthropicResponse(toolUse, true);
    expect(legacy.functionCall).toEqual({ name: "weather", arguments: '{"city":"Oslo"}' });
    expect(legacy.toolCalls).toBeUndefined();
    expect(legacy.warnings).toEqual([
      "provider made 2 function calls; the legacy function_call holds the first",
    ]);
  });

  it("maps a refusal to content_filter and keeps what was said", () => {
    const refusal = {
      ...wireMessage,
      content: [{ type: "text", text: "I can't help with that." }],
      stop_reason: "refusal",
    };
    expect(convertAnthropicResponse(refusal, false)).toMatchObject({
      content: "I can't help with that.",
      finishReason: "content_filter",
      rawFinishReason: "refusal",
    });
  });

  it("rejects a body of the wrong shape as malformed_response", () => {
    expect(() => convertAnthropicResponse("<html>", false)).toThrow(UpstreamError);
    try {
      convertAnthropicResponse({ id: "x" }, false);
    } catch (error) {
      expect((error as UpstreamError).failure).toBe("malformed_response");
    }
  });

  it("keeps thinking blocks whole, in order, and their readable text as the reasoning", () => {
    const outcome = convertAnthropicResponse(
      {
        ...wireMessage,
        content: [
          { type: "thinking", thinking: "First, ", signature: "sig1" },
          { type: "redacted_thinking", data: "enc" },
          { type: "thinking", thinking: "then.", signature: "sig2" },
          { type: "text", text: "Done.", citations: null },
        ],
      },
      false,
    );
    expect(outcome.content).toBe("Done.");
    expect(outcome.reasoning).toBe("First, then.");
    expect(outcome.thinkingBlocks).toEqual([
      { type: "thinking", thinking: "First, ", signature: "sig1" },
      { type: "redacted_thinking", data: "enc" },
      { type: "thinking", thinking: "then.", signature: "sig2" },
    ]);
    const redactedOnly = convertAnthropicResponse(
      { ...wireMessage, content: [{ type: "redacted_thinking", data: "enc" }] },
      false,
    );
    expect(redactedOnly.reasoning).toBeUndefined();
    expect(redactedOnly.thinkingBlocks).toEqual([{ type: "redacted_thinking", data: "enc" }]);
  });
});
