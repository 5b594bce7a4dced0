// Today's chat contract on the Ollama wire, end to end: through the real service over NATS to the
// fake Ollama. An image (base64) asked about whole and streamed; a thinking model's tool-using
// conversation over two turns with its reasoning returned, streamed and sent back as `thinking`;
// the model runs with its configured context length and keep-alive; what Ollama cannot take is
// refused before any call.
import type { ChatMessage, CompleteChatInput, StreamChunk, ToolCall } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOllamaServer, type FakeOllamaServer } from "../fakes/ollama-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import { multiWireConfig, startTestService, type TestService } from "../support/service.js";
import { refusalOf } from "../support/refusal.js";

/** A 1×1 PNG: 70 bytes. */
const PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const FEATURES = {
  chat: true,
  function_calling: true,
  streaming: true,
  vision: true,
  files: true,
  reasoning: true,
  prompt_caching: false,
};

let nats: NatsServerHandle;
let ollama: FakeOllamaServer;
let service: TestService;

beforeAll(async () => {
  [nats, ollama] = await Promise.all([
    startNatsServer(),
    startFakeOllamaServer({ models: ["llava:7b", "qwen3:8b"], thinkingModels: ["qwen3:8b"] }),
  ]);
  const provider = { id: "ollama", provider_type: "ollama" as const, endpoint: ollama.baseUrl };
  const config = multiWireConfig(nats.url, [
    {
      provider,
      model: {
        model_name: "llava",
        upstream_model: "llava:7b",
        context_window: 131_072,
        features: FEATURES,
        ollama: { keep_alive: "30m" },
      },
    },
  ]);
  config.models.push({
    model_name: "qwen",
    provider_id: "ollama",
    upstream_model: "qwen3:8b",
    context_window: 131_072,
    max_tokens: 1_024,
    features: FEATURES,
    ollama: { num_ctx: 32_768, keep_alive: -1 },
  });
  service = await startTestService(config, {});
});

afterAll(async () => {
  await service?.stop();
  await ollama?.close();
  await nats?.stop();
});

beforeEach(() => ollama.reset());

type SentMessage = { role: string; content: string; images?: string[]; thinking?: string };
const sentChat = (index = 0) =>
  ollama.requests[index]!.body as {
    messages: SentMessage[];
    options?: { num_ctx?: number };
    keep_alive?: string | number;
    think?: unknown;
    stream: boolean;
  };

function imageQuestion(url: string): CompleteChatInput {
  return {
    model: "llava",
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "What is in this picture?" },
          { type: "image_url", image_url: { url } },
        ],
      },
    ],
  };
}

async function collect(stream: AsyncIterable<unknown>): Promise<StreamChunk[]> {
  const chunks: StreamChunk[] = [];
  for await (const message of stream) chunks.push(message as StreamChunk);
  return chunks;
}

describe("an image to Ollama, as raw base64", () => {
  it("is answered whole, the model run with its context window and configured keep_alive", async () => {
    const completion = await service.client.completeChat(
      imageQuestion(`data:image/png;base64,${PNG_BASE64}`),
    );
    expect(completion).toMatchObject({
      provider_id: "ollama",
      content: "echo: What is in this picture? [1 image(s): 70 bytes]",
      finish_reason: "stop",
    });
    expect(sentChat()).toMatchObject({
      stream: false,
      messages: [{ role: "user", content: "What is in this picture?", images: [PNG_BASE64] }],
      options: { num_ctx: 131_072 },
      keep_alive: "30m",
    });
  });

  it("is answered streamed, the same request body with stream true", async () => {
    const stream = service.client.streamChat(imageQuestion(`data:image/png;base64,${PNG_BASE64}`));
    const chunks = await collect(stream);
    const done = await stream.done;
    expect(done.content).toBe("echo: What is in this picture? [1 image(s): 70 bytes]");
    expect(chunks.map((chunk) => chunk.delta.content).join("")).toBe(done.content);
    expect(sentChat()).toMatchObject({
      stream: true,
      messages: [{ role: "user", images: [PNG_BASE64] }],
      options: { num_ctx: 131_072 },
      keep_alive: "30m",
    });
  });
});

describe("a thinking model's tool-using conversation over two turns", () => {
  const weatherTool = {
    type: "function" as const,
    function: {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } } },
    },
  };
  const question: ChatMessage = { role: "user", content: "Should I take an umbrella in Oslo?" };
  const turn = (messages: ChatMessage[]): CompleteChatInput => ({
    model: "qwen",
    messages,
    tools: [weatherTool],
    reasoning_effort: "medium",
  });
  const secondTurn = (reasoning: string, calls: ToolCall[]): ChatMessage[] => [
    question,
    { role: "assistant", content: null, reasoning_content: reasoning, tool_calls: calls },
    { role: "tool", tool_call_id: calls[0]!.id, content: "rain, 4°C" },
  ];
  const expectSecondRequest = () =>
    expect(sentChat(1)).toMatchObject({
      think: true,
      options: { num_ctx: 32_768 },
      // "-1" (keep loaded) goes as a number: Ollama refuses a duration string without a unit.
      keep_alive: -1,
      messages: [
        { role: "user" },
        {
          role: "assistant",
          thinking: "I need the weather first.",
          tool_calls: [{ function: { name: "get_weather", arguments: { city: "Oslo" } } }],
        },
        { role: "tool", content: "rain, 4°C", tool_name: "get_weather" },
      ],
    });

  it("returns reasoning_content apart from the content, and takes it back as thinking", async () => {
    ollama.setReply({
      thinking: "I need the weather first.",
      toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }],
    });
    const first = await service.client.completeChat(turn([question]));
    expect(first).toMatchObject({
      content: null,
      reasoning_content: "I need the weather first.",
      finish_reason: "function_call",
    });
    expect(first.tool_calls).toEqual([
      expect.objectContaining({ function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }),
    ]);

    ollama.setReply({ content: "Yes, take one.", thinking: "Rain means an umbrella." });
    const second = await service.client.completeChat(
      turn(secondTurn(first.reasoning_content!, first.tool_calls!)),
    );
    expect(second).toMatchObject({ content: "Yes, take one.", reasoning_content: "Rain means an umbrella." });
    expect(sentChat(0)).toMatchObject({ think: true, options: { num_ctx: 32_768 }, keep_alive: -1 });
    expectSecondRequest();
  });

  it("streams the reasoning as reasoning_content deltas before the content, on both turns", async () => {
    ollama.setReply({
      thinking: "I need the weather first.",
      toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }],
    });
    const first = service.client.streamChat(turn([question]));
    const firstChunks = await collect(first);
    const firstDone = await first.done;
    expect(firstChunks.map((chunk) => chunk.delta.reasoning_content ?? "").join("")).toBe(
      "I need the weather first.",
    );
    expect(firstDone).toMatchObject({
      reasoning_content: "I need the weather first.",
      finish_reason: "function_call",
    });
    const calls = firstChunks.flatMap((chunk) => chunk.delta.tool_calls ?? []);
    expect(calls).toEqual([
      expect.objectContaining({ index: 0, function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }),
    ]);

    ollama.setReply({ content: "Yes, take one.", thinking: "Rain means an umbrella." });
    const toolCalls: ToolCall[] = calls.map((call) => ({
      id: call.id!,
      type: "function",
      function: { name: call.function!.name!, arguments: call.function!.arguments! },
    }));
    const second = service.client.streamChat(turn(secondTurn(firstDone.reasoning_content!, toolCalls)));
    const secondChunks = await collect(second);
    const kinds = secondChunks.map((chunk) => (chunk.delta.reasoning_content !== undefined ? "r" : "c"));
    expect(kinds.join("")).toMatch(/^r+c+$/);
    expect(await second.done).toMatchObject({
      content: "Yes, take one.",
      reasoning_content: "Rain means an umbrella.",
    });
    expectSecondRequest();
  });
});

describe("content Ollama cannot take is refused before any call", () => {
  it.each([
    ["an image by URL", "https://example.com/cat.png"],
    ["a PDF", "pdf"],
  ])("%s: unsupported_content naming the part, whole and streamed", async (_what, url) => {
    const request: CompleteChatInput =
      url === "pdf"
        ? {
            model: "llava",
            messages: [
              {
                role: "user",
                content: [
                  { type: "text", text: "Summarise this." },
                  {
                    type: "file",
                    file: { file_data: "data:application/pdf;base64,JVBERi0xLjQK", filename: "a.pdf" },
                  },
                ],
              },
            ],
          }
        : imageQuestion(url);
    const whole = await refusalOf(service.client.completeChat(request));
    expect(whole).toMatchObject({ code: "unsupported_content", field: "messages[0].content[1]" });
    const streamed = await refusalOf(collect(service.client.streamChat(request)));
    expect(streamed).toMatchObject({ code: "unsupported_content", field: "messages[0].content[1]" });
    expect(ollama.requests).toEqual([]);
  });
});
