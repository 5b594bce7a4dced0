import { describe, expect, it } from "vitest";
import { convertToAnthropicMessages } from "./convert-to-anthropic-messages.js";

describe("convertToAnthropicMessages", () => {
  it("lifts leading system messages into `system` and keeps a later one in place", () => {
    expect(
      convertToAnthropicMessages([
        { role: "system", content: "be brief" },
        { role: "system", content: "answer in French" },
        { role: "user", content: "hello" },
        { role: "assistant", content: "bonjour" },
        { role: "system", content: "now in German" },
        { role: "user", content: "again" },
      ]),
    ).toEqual({
      system: "be brief\n\nanswer in French",
      messages: [
        { role: "user", content: [{ type: "text", text: "hello" }] },
        { role: "assistant", content: [{ type: "text", text: "bonjour" }] },
        { role: "system", content: "now in German" },
        { role: "user", content: [{ type: "text", text: "again" }] },
      ],
      warnings: [],
    });
  });

  it("merges consecutive turns of one role, leaving out empty text", () => {
    const { system, messages } = convertToAnthropicMessages([
      { role: "user", content: "one" },
      { role: "user", content: "" },
      { role: "user", content: "two" },
    ]);
    expect(system).toBeUndefined();
    expect(messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "one" },
          { type: "text", text: "two" },
        ],
      },
    ]);
  });

  it("turns tool calls into tool_use and their results into tool_result, results first", () => {
    const { messages, warnings } = convertToAnthropicMessages([
      { role: "user", content: "weather in Oslo and Rome?" },
      {
        role: "assistant",
        content: "Checking.",
        tool_calls: [
          { id: "toolu_1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } },
          { id: "toolu_2", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: "tool", tool_call_id: "toolu_1", content: "3 °C" },
      { role: "user", content: "and in Paris?" },
      { role: "tool", tool_call_id: "toolu_2", content: "18 °C" },
    ]);
    expect(warnings).toEqual([]);
    expect(messages).toEqual([
      { role: "user", content: [{ type: "text", text: "weather in Oslo and Rome?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Oslo" } },
          { type: "tool_use", id: "toolu_2", name: "weather", input: { city: "Rome" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "3 °C" },
          { type: "tool_result", tool_use_id: "toolu_2", content: "18 °C" },
          { type: "text", text: "and in Paris?" },
        ],
      },
    ]);
  });

  it("gives the seed's legacy function_call an id its function result answers", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "user", content: "weather?" },
      { role: "assistant", content: null, function_call: { name: "weather", arguments: "{}" } },
      { role: "function", name: "weather", content: '{"temp":3}' },
    ]);
    expect(messages.slice(1)).toEqual([
      { role: "assistant", content: [{ type: "tool_use", id: "call_legacy_1", name: "weather", input: {} }] },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "call_legacy_1", content: '{"temp":3}' }],
      },
    ]);
  });

  it("warns about what it cannot send instead of dropping it silently", () => {
    const { messages, warnings } = convertToAnthropicMessages([
      { role: "user", content: "hi", name: "ann" },
      { role: "assistant", content: null, function_call: { name: "f", arguments: "not json" } },
    ]);
    expect(messages[1]).toEqual({
      role: "assistant",
      content: [{ type: "tool_use", id: "call_legacy_1", name: "f", input: {} }],
    });
    expect(warnings).toEqual([
      "messages[0].name is not supported by Anthropic and was not sent",
      "messages[1]: function call arguments are not a JSON object; sent as {}",
    ]);
  });

  it("keeps a later developer message in place as a system turn", () => {
    const { system, messages } = convertToAnthropicMessages([
      { role: "developer", content: "Be brief." },
      { role: "user", content: "hi" },
      { role: "developer", content: [{ type: "text", text: "Now be formal." }] },
    ]);
    expect(system).toBe("Be brief.");
    expect(messages.at(-1)).toEqual({ role: "system", content: "Now be formal." });
  });

  it("puts a message's breakpoint on its last block: past thinking, on a tool result", () => {
    const breakpoint = { type: "ephemeral" as const };
    const { messages } = convertToAnthropicMessages(
      [
        { role: "user", content: "weather?" },
        {
          role: "assistant",
          content: "Checking.",
          thinking_blocks: [{ type: "thinking", thinking: "t", signature: "s" }],
          tool_calls: [{ id: "toolu_1", type: "function", function: { name: "w", arguments: "{}" } }],
          cache_control: breakpoint,
        },
        { role: "tool", tool_call_id: "toolu_1", content: "rain", cache_control: breakpoint },
      ],
      true,
    );
    expect(messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "t", signature: "s" },
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "toolu_1", name: "w", input: {}, cache_control: breakpoint },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "rain", cache_control: breakpoint },
        ],
      },
    ]);
  });
});
