import { describe, expect, it } from "vitest";
import type { ChatStreamPart } from "../../ports/provider-client.js";
import { convertOllamaChatStream, parseOllamaStreamLine, splitLines } from "./convert-ollama-chat-stream.js";

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

async function run(lines: unknown[], legacy = false) {
  const parts: ChatStreamPart[] = [];
  let error: unknown;
  let ids = 0;
  const texts = lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line)));
  try {
    for await (const part of convertOllamaChatStream(from(texts), legacy, () => `call_${++ids}`))
      parts.push(part);
  } catch (caught) {
    error = caught;
  }
  return { parts, error };
}

const word = (content: string) => ({
  model: "llama3.2:3b",
  message: { role: "assistant", content },
  done: false,
});
const done = {
  model: "llama3.2:3b",
  message: { role: "assistant", content: "" },
  done: true,
  done_reason: "stop",
  prompt_eval_count: 11,
  eval_count: 3,
};

describe("convertOllamaChatStream", () => {
  it("a content delta per line, then one end from the done line", async () => {
    const { parts, error } = await run([word("Hello"), word(" world"), done]);
    expect(error).toBeUndefined();
    expect(parts).toEqual([
      { type: "delta", delta: { content: "Hello" } },
      { type: "delta", delta: { content: " world" } },
      {
        type: "end",
        end: {
          upstreamId: null,
          responseModel: "llama3.2:3b",
          finishReason: "stop",
          rawFinishReason: "stop",
          usage: { promptTokens: 11, completionTokens: 3 },
          warnings: [],
        },
      },
    ]);
  });

  it("tool calls come whole, one indexed delta each with an id; the end says function_call", async () => {
    const calls = {
      ...word(""),
      message: {
        role: "assistant",
        content: "",
        tool_calls: [
          { function: { name: "get_weather", arguments: { city: "Oslo" } } },
          { id: "own", function: { name: "get_time", arguments: "{}" } },
        ],
      },
    };
    const { parts } = await run([calls, done]);
    expect(parts[0]).toEqual({
      type: "delta",
      delta: {
        toolCalls: [
          {
            index: 0,
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
          },
          { index: 1, id: "own", type: "function", function: { name: "get_time", arguments: "{}" } },
        ],
      },
    });
    expect(parts[1]).toMatchObject({
      type: "end",
      end: { finishReason: "function_call", rawFinishReason: "stop" },
    });

    const legacy = await run([calls, done], true);
    expect(legacy.parts[0]).toEqual({
      type: "delta",
      delta: { functionCall: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
    });
    expect(legacy.parts[1]).toMatchObject({
      end: { warnings: [expect.stringContaining("2 function calls")] },
    });
  });

  it("lines that stop before done: true yield no end (a cut)", async () => {
    const { parts, error } = await run([word("Hello")]);
    expect(error).toBeUndefined();
    expect(parts.map((part) => part.type)).toEqual(["delta"]);
  });

  it("ends at the done line, whatever follows", async () => {
    const { parts } = await run([word("Hi"), { ...done, done_reason: "length" }, "not read"]);
    expect(parts.at(-1)).toMatchObject({ type: "end", end: { finishReason: "length" } });
  });

  it("an error line is a server failure; a line that is not JSON is malformed", async () => {
    expect((await run([word("Hi"), { error: "llama runner process has terminated" }])).error).toMatchObject({
      failure: "server_error",
    });
    expect((await run([word("Hi"), "{not json"])).error).toMatchObject({ failure: "malformed_response" });
    expect(() => parseOllamaStreamLine('{"done":"yes"}')).toThrow(/unexpected shape/);
  });
});

describe("splitLines", () => {
  it("splits across chunk borders and multi-byte characters, keeping a last unterminated line", async () => {
    const bytes = new TextEncoder().encode('{"a":"ø"}\n{"b":1}\n{"c"');
    const chunks = [bytes.slice(0, 7), bytes.slice(7, 12), bytes.slice(12)];
    const lines: string[] = [];
    for await (const line of splitLines(from(chunks))) lines.push(line);
    expect(lines).toEqual(['{"a":"ø"}', '{"b":1}', '{"c"']);
  });
});
