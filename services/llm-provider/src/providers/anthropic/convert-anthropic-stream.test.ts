import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../domain/failure.js";
import type { ChatStreamPart } from "../../ports/provider-client.js";
import { convertAnthropicStream } from "./convert-anthropic-stream.js";

async function* from(events: unknown[], thenThrow?: Error): AsyncGenerator<unknown> {
  for (const event of events) yield await Promise.resolve(event);
  if (thenThrow !== undefined) throw thenThrow;
}

async function run(events: unknown[], options: { legacy?: boolean; thenThrow?: Error } = {}) {
  const parts: ChatStreamPart[] = [];
  let error: unknown;
  try {
    for await (const part of convertAnthropicStream(from(events, options.thenThrow), options.legacy ?? false))
      parts.push(part);
  } catch (caught) {
    error = caught;
  }
  return { parts, error };
}

const start = {
  type: "message_start",
  message: {
    id: "msg_01",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-5-5",
    content: [],
    stop_reason: null,
    usage: { input_tokens: 25, cache_read_input_tokens: 5, output_tokens: 1 },
  },
};
const textBlock = [
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  { type: "ping" },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: " world" } },
  { type: "content_block_stop", index: 0 },
];
const finish = (stopReason: string) => ({
  type: "message_delta",
  delta: { stop_reason: stopReason, stop_sequence: null },
  usage: { output_tokens: 12 },
});

describe("convertAnthropicStream", () => {
  it("text deltas, then one end with the mapped stop reason, raw value and usage from both ends", async () => {
    const { parts, error } = await run([start, ...textBlock, finish("end_turn"), { type: "message_stop" }]);
    expect(error).toBeUndefined();
    expect(parts).toEqual([
      { type: "delta", delta: { content: "Hello" } },
      { type: "delta", delta: { content: " world" } },
      {
        type: "end",
        end: {
          upstreamId: "msg_01",
          responseModel: "claude-sonnet-5-5",
          finishReason: "stop",
          rawFinishReason: "end_turn",
          usage: { promptTokens: 30, completionTokens: 12, cacheReadTokens: 5 },
          warnings: [],
        },
      },
    ]);
  });

  it("tool_use: a header delta with id and name, then the input_json pieces as arguments", async () => {
    const { parts } = await run([
      start,
      ...textBlock,
      {
        type: "content_block_start",
        index: 1,
        content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} },
      },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "" } },
      {
        type: "content_block_delta",
        index: 1,
        delta: { type: "input_json_delta", partial_json: '{"city":' },
      },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '"Oslo"}' } },
      { type: "content_block_stop", index: 1 },
      finish("tool_use"),
    ]);
    expect(parts.slice(2, 5)).toEqual([
      {
        type: "delta",
        delta: {
          toolCalls: [{ index: 0, id: "toolu_1", type: "function", function: { name: "get_weather" } }],
        },
      },
      { type: "delta", delta: { toolCalls: [{ index: 0, function: { arguments: '{"city":' } }] } },
      { type: "delta", delta: { toolCalls: [{ index: 0, function: { arguments: '"Oslo"}' } }] } },
    ]);
    expect(parts.at(-1)).toMatchObject({
      type: "end",
      end: { finishReason: "function_call", rawFinishReason: "tool_use" },
    });
  });

  it("a tool call without input gets {} as arguments; the legacy form streams function_call", async () => {
    const { parts } = await run(
      [
        start,
        {
          type: "content_block_start",
          index: 0,
          content_block: { type: "tool_use", id: "toolu_1", name: "now", input: {} },
        },
        { type: "content_block_stop", index: 0 },
        finish("tool_use"),
      ],
      { legacy: true },
    );
    expect(parts.slice(0, 2)).toEqual([
      { type: "delta", delta: { functionCall: { name: "now" } } },
      { type: "delta", delta: { functionCall: { arguments: "{}" } } },
    ]);
  });

  it("ends at message_delta without waiting for message_stop", async () => {
    const { parts } = await run([start, ...textBlock, finish("max_tokens")]);
    expect(parts.at(-1)).toMatchObject({
      type: "end",
      end: { finishReason: "length", rawFinishReason: "max_tokens" },
    });
  });

  it("a stream that closes before the stop reason yields no end (it was cut)", async () => {
    const { parts, error } = await run([start, ...textBlock]);
    expect(error).toBeUndefined();
    expect(parts.map((part) => part.type)).toEqual(["delta", "delta"]);
  });

  it("an `error` event (the SDK throws a status-less APIError) is classified by its type", async () => {
    const body = { type: "error", error: { type: "overloaded_error", message: "Overloaded" } };
    const thrown = new Anthropic.APIError(undefined, body, undefined, new Headers(), "overloaded_error");
    const { parts, error } = await run([start, ...textBlock.slice(0, 3)], { thenThrow: thrown });
    expect(parts).toHaveLength(1);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ failure: "overloaded", providerCode: "overloaded_error" });
  });

  it("unparsable data is malformed_response; an unknown read error is a broken connection", async () => {
    const malformed = await run([start], { thenThrow: new SyntaxError("Unexpected token") });
    expect(malformed.error).toMatchObject({ failure: "malformed_response" });
    const cut = await run([start], { thenThrow: new TypeError("terminated") });
    expect(cut.error).toMatchObject({ failure: "connection" });
    const wrongShape = await run([{ type: 42 }]);
    expect(wrongShape.error).toMatchObject({ failure: "malformed_response" });
  });

  it("no usage at all: a warning, usage undefined", async () => {
    const { parts } = await run([
      { type: "message_start", message: { id: "msg_2", model: "m" } },
      { type: "message_delta", delta: { stop_reason: "end_turn" } },
    ]);
    expect(parts.at(-1)).toMatchObject({
      type: "end",
      end: { usage: undefined, warnings: ["provider did not report token usage; cost is 0"] },
    });
  });

  it("streams thinking as reasoning deltas and ends with the signed and redacted blocks, in order", async () => {
    const { parts } = await run([
      start,
      {
        type: "content_block_start",
        index: 0,
        content_block: { type: "thinking", thinking: "", signature: "" },
      },
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Let me " } },
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "think." } },
      { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "EqQBsig" } },
      { type: "content_block_stop", index: 0 },
      {
        type: "content_block_start",
        index: 1,
        content_block: { type: "redacted_thinking", data: "EmwKAhenc" },
      },
      { type: "content_block_stop", index: 1 },
      // A thinking block that never got its signature cannot go back: it is not kept.
      {
        type: "content_block_start",
        index: 2,
        content_block: { type: "thinking", thinking: "", signature: "" },
      },
      { type: "content_block_stop", index: 2 },
      ...textBlock.map((event) => ("index" in event ? { ...event, index: 3 } : event)),
      { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 40 } },
    ]);
    const deltas = parts.flatMap((part) => (part.type === "delta" ? [part.delta] : []));
    expect(deltas.slice(0, 2)).toEqual([{ reasoning: "Let me " }, { reasoning: "think." }]);
    const end = parts.at(-1);
    expect(end?.type === "end" && end.end.thinkingBlocks).toEqual([
      { type: "thinking", thinking: "Let me think.", signature: "EqQBsig" },
      { type: "redacted_thinking", data: "EmwKAhenc" },
    ]);
  });
});
