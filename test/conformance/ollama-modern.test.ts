// The Ollama wire's mapping of today's chat contract: content parts (images as raw base64, text
// files as text), developer instructions, `think` and its reasoning (answered, streamed, sent back
// in history), and the run options `num_ctx` and `keep_alive`, against the fake Ollama that
// refuses what Ollama refuses.
import type { CompleteChat } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { UpstreamError } from "../../services/llm-provider/src/domain/failure.js";
import type {
  ChatCall,
  ChatStreamPart,
  ProviderClient,
} from "../../services/llm-provider/src/ports/provider-client.js";
import { startFakeOllamaServer, type FakeOllamaServer } from "../fakes/ollama-server.js";
import { createWireClient, providerSpec } from "./wire-session.js";

/** A 1×1 PNG: 70 bytes. */
const PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const PNG_DATA_URL = `data:image/png;base64,${PNG_BASE64}`;
const NOTES = "Line one\nLine two";
const NOTES_DATA_URL = `data:text/plain;base64,${Buffer.from(NOTES).toString("base64")}`;

let fake: FakeOllamaServer;
let client: ProviderClient;
let closeTransport: () => Promise<void>;

beforeAll(async () => {
  fake = await startFakeOllamaServer({
    models: ["llava:7b", "qwen3:8b", "gpt-oss:20b", "llama3.2:3b"],
    thinkingModels: ["qwen3:8b", "gpt-oss:20b"],
  });
  ({ client, closeTransport } = createWireClient(
    providerSpec({ id: "ollama", provider_type: "ollama", endpoint: fake.baseUrl }),
    undefined,
  ));
});
afterAll(async () => {
  await closeTransport?.();
  await fake?.close();
});
beforeEach(() => fake.reset());

function callOf(upstreamModel: string, request: Omit<CompleteChat, "model">, extra: Partial<ChatCall> = {}) {
  const call: ChatCall = {
    upstreamModel,
    modelMaxTokens: 512,
    request: { model: "m", ...request },
    signal: new AbortController().signal,
    ...extra,
  };
  return call;
}
const chat = (...args: Parameters<typeof callOf>) => client.completeChat(callOf(...args));
async function stream(...args: Parameters<typeof callOf>): Promise<ChatStreamPart[]> {
  const parts: ChatStreamPart[] = [];
  for await (const part of client.streamChat!(callOf(...args))) parts.push(part);
  return parts;
}
const sentBody = (index = 0) => fake.requests[index]!.body as Record<string, unknown>;
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as UpstreamError,
  );
const weather = { type: "function" as const, function: { name: "get_weather" } };

describe("ollama wire: content parts", () => {
  it("sends developer as system, joins text parts, images as raw base64 and a text file as a named block", async () => {
    const outcome = await chat("llava:7b", {
      messages: [
        { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
        {
          role: "user",
          content: [
            { type: "text", text: "What is this? ", cache_control: { type: "ephemeral" } },
            { type: "image_url", image_url: { url: PNG_DATA_URL, detail: "high" } },
            { type: "text", text: "And read this." },
            { type: "file", file: { file_data: NOTES_DATA_URL, filename: "notes.txt" } },
          ],
          cache_control: { type: "ephemeral" },
        },
      ],
    });
    expect(sentBody().messages).toEqual([
      { role: "system", content: "Answer in French." },
      {
        role: "user",
        content: `What is this? And read this.\n\n<file name="notes.txt">\n${NOTES}\n</file>`,
        images: [PNG_BASE64],
      },
    ]);
    // The fake decoded the image as Ollama does: bytes, not a URL.
    expect(outcome.content).toContain("[1 image(s): 70 bytes]");
    expect(outcome.warnings).toEqual([]);
  });

  it("sends a tool result given as text parts as its joined text, named after its call", async () => {
    await chat("llama3.2:3b", {
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: "{}" } }],
        },
        {
          role: "tool",
          tool_call_id: "c1",
          content: [
            { type: "text", text: "4°C, " },
            { type: "text", text: "rain" },
          ],
        },
      ],
      tools: [weather],
    });
    expect((sentBody().messages as unknown[])[2]).toEqual({
      role: "tool",
      content: "4°C, rain",
      tool_name: "get_weather",
    });
  });

  it("refuses an image by URL and a PDF before any call: the domain should have refused them", async () => {
    const byUrl = await failureOf(
      chat("llava:7b", {
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
            ],
          },
        ],
      }),
    );
    expect(byUrl).toMatchObject({ failure: "bad_request" });
    expect(byUrl?.message).toContain("messages[0].content[1] is an image by URL");
    const pdf = await failureOf(
      chat("llava:7b", {
        messages: [
          {
            role: "user",
            content: [{ type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=" } }],
          },
        ],
      }),
    );
    expect(pdf).toMatchObject({ failure: "bad_request" });
    expect(pdf?.message).toContain("messages[0].content[0] is a PDF file");
    expect(fake.requests).toEqual([]);
  });
});

describe("ollama wire: think", () => {
  it.each([
    ["qwen3:8b", { reasoning_effort: "none" }, false],
    ["qwen3:8b", { reasoning_effort: "minimal" }, true],
    ["qwen3:8b", { reasoning_effort: "high" }, true],
    ["qwen3:8b", { thinking: { type: "disabled" } }, false],
    ["gpt-oss:20b", { reasoning_effort: "minimal" }, "low"],
    ["gpt-oss:20b", { reasoning_effort: "medium" }, "medium"],
    ["gpt-oss:20b", { reasoning_effort: "high" }, "high"],
    ["llama3.2:3b", { reasoning_effort: "none" }, false],
  ] as const)("%s with %o sends think %o", async (model, setting, think) => {
    await chat(model, { messages: [{ role: "user", content: "2+2?" }], ...setting });
    expect(sentBody().think).toBe(think);
  });

  it("sends no think when the request sets no reasoning, leaving Ollama's default", async () => {
    await chat("qwen3:8b", { messages: [{ role: "user", content: "2+2?" }] });
    expect(sentBody()).not.toHaveProperty("think");
  });

  it("returns a thinking model's message.thinking as reasoning, apart from the content", async () => {
    fake.setReply({ content: "4", thinking: "Two plus two is four." });
    const outcome = await chat("qwen3:8b", {
      messages: [{ role: "user", content: "2+2?" }],
      reasoning_effort: "low",
    });
    expect(outcome).toMatchObject({ content: "4", reasoning: "Two plus two is four.", finishReason: "stop" });
  });

  it("asks for thinking with a budget as think true and says the budget is not honoured", async () => {
    const outcome = await chat("qwen3:8b", {
      messages: [{ role: "user", content: "2+2?" }],
      thinking: { type: "enabled", budget_tokens: 2_048 },
    });
    expect(sentBody().think).toBe(true);
    expect(outcome.reasoning).toBe("The user said: 2+2?");
    expect(outcome.warnings).toEqual([
      "thinking.budget_tokens is not supported by Ollama; the model thinks without a budget (2048 asked)",
    ]);
  });

  it("reports Ollama's refusal of think on a model without thinking as a bad request", async () => {
    const error = await failureOf(
      chat("llama3.2:3b", { messages: [{ role: "user", content: "2+2?" }], reasoning_effort: "low" }),
    );
    expect(error).toMatchObject({ failure: "bad_request", status: 400 });
    expect(error?.message).toBe('provider answered 400: "llama3.2:3b" does not support thinking');
  });

  it("streams reasoning deltas before the content deltas; the end carries no reasoning", async () => {
    fake.setReply({ content: "It is four.", thinking: "Add two and two." });
    const parts = await stream("qwen3:8b", {
      messages: [{ role: "user", content: "2+2?" }],
      reasoning_effort: "medium",
    });
    expect(sentBody()).toMatchObject({ stream: true, think: true });
    const deltas = parts.flatMap((part) => (part.type === "delta" ? [part.delta] : []));
    expect(deltas).toEqual([
      { reasoning: "Add " },
      { reasoning: "two " },
      { reasoning: "and " },
      { reasoning: "two." },
      { content: "It " },
      { content: "is " },
      { content: "four." },
    ]);
    expect(parts.at(-1)).toMatchObject({ type: "end", end: { finishReason: "stop" } });
    expect(parts.at(-1)).not.toHaveProperty("end.reasoning");
  });

  it("sends an assistant turn's reasoning_content back as thinking, beside its tool calls", async () => {
    await chat("qwen3:8b", {
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        {
          role: "assistant",
          content: null,
          reasoning_content: "I should look it up.",
          tool_calls: [
            { id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: "tool", tool_call_id: "c1", content: "4°C" },
      ],
      tools: [weather],
      reasoning_effort: "low",
    });
    expect((sentBody().messages as unknown[])[1]).toEqual({
      role: "assistant",
      content: "",
      thinking: "I should look it up.",
      tool_calls: [{ function: { name: "get_weather", arguments: { city: "Oslo" } } }],
    });
  });
});

describe("ollama wire: run options and settings Ollama lacks", () => {
  it("sends num_ctx in options and keep_alive at the top level", async () => {
    await chat(
      "llama3.2:3b",
      { messages: [{ role: "user", content: "hi" }], max_completion_tokens: 40 },
      { ollama: { numCtx: 131_072, keepAlive: "10m" } },
    );
    expect(sentBody()).toMatchObject({
      options: { num_ctx: 131_072, num_predict: 40 },
      keep_alive: "10m",
    });
  });

  it("sends num_ctx without keep_alive when none is configured, and none of either without run options", async () => {
    await chat("llama3.2:3b", { messages: [{ role: "user", content: "hi" }] }, { ollama: { numCtx: 8_192 } });
    expect(sentBody(0)).toMatchObject({ options: { num_ctx: 8_192 } });
    expect(sentBody(0)).not.toHaveProperty("keep_alive");
    await chat("llama3.2:3b", { messages: [{ role: "user", content: "hi" }] });
    expect(sentBody(1)).not.toHaveProperty("options");
  });

  it("sends a unitless keep_alive as seconds: Ollama refuses a duration string without a unit", async () => {
    await chat(
      "llama3.2:3b",
      { messages: [{ role: "user", content: "hi" }] },
      { ollama: { numCtx: 4_096, keepAlive: "-1" } },
    );
    expect(sentBody().keep_alive).toBe(-1);
  });

  it("does not send cache_control, parallel_tool_calls or provider_preferences, and warns of the two settings", async () => {
    const outcome = await chat("llama3.2:3b", {
      messages: [{ role: "user", content: "hi", cache_control: { type: "ephemeral", ttl: "1h" } }],
      tools: [{ ...weather, cache_control: { type: "ephemeral" } }],
      parallel_tool_calls: false,
      provider_preferences: { order: ["together"] },
      prompt_cache: "auto",
    });
    const body = JSON.stringify(sentBody());
    for (const field of ["cache_control", "parallel_tool_calls", "provider", "prompt_cache"])
      expect(body).not.toContain(field);
    expect(outcome.warnings).toEqual([
      "parallel_tool_calls is not supported by Ollama and was not sent; the model decides",
      "provider_preferences is OpenRouter's and was not sent to Ollama",
    ]);
  });
});

describe("fake ollama refuses what Ollama refuses", () => {
  const post = (body: unknown) =>
    fetch(`${fake.baseUrl}/api/chat`, { method: "POST", body: JSON.stringify(body) }).then(
      async (response) => ({
        status: response.status,
        body: await response.json(),
      }),
    );
  const user = (extra: object = {}) => [{ role: "user", content: "hi", ...extra }];

  it("refuses an image given as a data URL: Ollama decodes images as base64 bytes", async () => {
    const answer = await post({
      model: "llava:7b",
      messages: user({ images: [PNG_DATA_URL] }),
      stream: false,
    });
    expect(answer).toEqual({ status: 400, body: { error: "illegal base64 data at input byte 4" } });
  });

  it("refuses a think level Ollama does not know and a keep_alive string without a unit", async () => {
    expect(await post({ model: "gpt-oss:20b", messages: user(), think: "minimal" })).toEqual({
      status: 400,
      body: {
        error: 'invalid think value: "minimal" (must be "high", "medium", "low", "max", true, or false)',
      },
    });
    expect(await post({ model: "llama3.2:3b", messages: user(), keep_alive: "-1" })).toEqual({
      status: 400,
      body: { error: 'time: missing unit in duration "-1"' },
    });
  });
});
