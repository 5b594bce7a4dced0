import { describe, expect, it } from "vitest";
import { createChatAnswerAssembler } from "./chat-answer-assembler.js";

const end = {
  upstreamId: "chatcmpl-1",
  responseModel: "m",
  finishReason: "stop" as const,
  rawFinishReason: "stop",
  usage: { promptTokens: 3, completionTokens: 4 },
  warnings: [],
};

describe("createChatAnswerAssembler", () => {
  it("joins text pieces, and keeps null content when there was none", () => {
    const text = createChatAnswerAssembler();
    for (const content of ["echo", ": ", "Hi"]) text.add({ content });
    expect(text.outcome(end)).toEqual({ ...end, content: "echo: Hi" });
    expect(createChatAnswerAssembler().outcome(end).content).toBeNull();
  });

  it("joins tool call pieces by index, in index order, and a legacy function call", () => {
    const tools = createChatAnswerAssembler();
    tools.add({
      toolCalls: [{ index: 1, id: "call_b", type: "function", function: { name: "second", arguments: "" } }],
    });
    tools.add({
      toolCalls: [
        { index: 0, id: "call_a", type: "function", function: { name: "first", arguments: '{"a"' } },
      ],
    });
    tools.add({
      toolCalls: [
        { index: 0, function: { arguments: ":1}" } },
        { index: 1, function: { arguments: "{}" } },
      ],
    });
    tools.add({ functionCall: { name: "legacy", arguments: "{" } });
    tools.add({ functionCall: { arguments: "}" } });
    const outcome = tools.outcome({ ...end, finishReason: "function_call" });
    expect(outcome.toolCalls).toEqual([
      { id: "call_a", type: "function", function: { name: "first", arguments: '{"a":1}' } },
      { id: "call_b", type: "function", function: { name: "second", arguments: "{}" } },
    ]);
    expect(outcome.functionCall).toEqual({ name: "legacy", arguments: "{}" });
    expect(outcome.content).toBeNull();
  });
});
