import { describe, expect, it } from "vitest";
import type { UpstreamError } from "../../domain/failure.js";
import { convertOllamaChatResponse } from "./convert-ollama-chat-response.js";
import { mapOllamaDoneReason } from "./map-ollama-done-reason.js";

const wireResponse = {
  model: "llama3.2:3b",
  created_at: "2026-11-24T12:00:00.000000Z",
  message: { role: "assistant", content: "Hello! How can I help you today?" },
  done: true,
  done_reason: "stop",
  total_duration: 174560334,
  load_duration: 101397084,
  prompt_eval_count: 11,
  prompt_eval_duration: 13074791,
  eval_count: 18,
  eval_duration: 52479709,
};
const noId = () => "call_generated";

describe("mapOllamaDoneReason", () => {
  it.each([
    ["stop", false, "stop"],
    ["stop", true, "function_call"],
    ["length", false, "length"],
    ["load", false, "stop"],
    [null, false, "stop"],
  ] as const)("%s (tool calls: %s) → %s", (raw, hasToolCalls, mapped) => {
    expect(mapOllamaDoneReason(raw, hasToolCalls)).toBe(mapped);
  });
});

describe("convertOllamaChatResponse", () => {
  it("reads content, done_reason and the eval counts as usage", () => {
    expect(convertOllamaChatResponse(wireResponse, false, noId)).toEqual({
      upstreamId: null,
      responseModel: "llama3.2:3b",
      content: "Hello! How can I help you today?",
      finishReason: "stop",
      rawFinishReason: "stop",
      usage: { promptTokens: 11, completionTokens: 18 },
      warnings: [],
    });
  });

  it("reads tool calls, with or without an id, or as the legacy function_call", () => {
    const withTools = {
      ...wireResponse,
      message: {
        role: "assistant",
        content: "",
        tool_calls: [
          { function: { name: "weather", arguments: { city: "Oslo" } } },
          { id: "call_abc", function: { index: 1, name: "weather", arguments: { city: "Rome" } } },
        ],
      },
    };
    const outcome = convertOllamaChatResponse(withTools, false, noId);
    expect(outcome).toMatchObject({ content: null, finishReason: "function_call", rawFinishReason: "stop" });
    expect(outcome.toolCalls).toEqual([
      { id: "call_generated", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } },
      { id: "call_abc", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } },
    ]);
    const legacy = convertOllamaChatResponse(withTools, true, noId);
    expect(legacy.functionCall).toEqual({ name: "weather", arguments: '{"city":"Oslo"}' });
    expect(legacy.warnings).toEqual([
      "provider made 2 function calls; the legacy function_call holds the first",
    ]);
  });

  it("warns when the counts are missing and turns an in-body error into a failure", () => {
    const { prompt_eval_count: _p, eval_count: _e, ...noCounts } = wireResponse;
    expect(convertOllamaChatResponse(noCounts, false, noId)).toMatchObject({
      usage: undefined,
      warnings: ["provider did not report token usage; cost is 0"],
    });
    expect(() =>
      convertOllamaChatResponse({ error: "llama runner process has terminated" }, false, noId),
    ).toThrow("provider failed: llama runner process has terminated");
    try {
      convertOllamaChatResponse({ model: "x" }, false, noId);
    } catch (error) {
      expect((error as UpstreamError).failure).toBe("malformed_response");
    }
  });
});
