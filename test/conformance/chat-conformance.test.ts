// One suite, every wire (as Hono runs one router suite against every router): the same neutral
// scenarios against each wire's fake server, through the wire's ProviderClient. Every test checks
// what reached the provider as well as what came back. A wire skips a scenario only with a reason.
import { LlmProviderError, type ChatMessage, type CompleteChat } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Target } from "../../services/llm-provider/src/domain/catalog.js";
import { UpstreamError } from "../../services/llm-provider/src/domain/failure.js";
import { ProviderConfigSchema } from "../../services/llm-provider/src/config/schema.js";
import { executeWithFallback } from "../../services/llm-provider/src/routing/execute-with-fallback.js";
import { ANTHROPIC_WIRE } from "./anthropic-wire-session.js";
import { OLLAMA_WIRE } from "./ollama-wire-session.js";
import { AZURE_OPENAI_WIRE, OPENAI_WIRE, OPENROUTER_WIRE } from "./openai-wire-sessions.js";
import type { Scenario, WireSession, WireUnderTest } from "./wire-session.js";
import { DEFAULT_MODEL_FEATURES } from "../../services/llm-provider/src/domain/catalog.js";

const WIRES: WireUnderTest[] = [OPENAI_WIRE, OPENROUTER_WIRE, AZURE_OPENAI_WIRE, ANTHROPIC_WIRE, OLLAMA_WIRE];
const MODEL_MAX_TOKENS = 1_024;

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const askWeather: ChatMessage = { role: "user", content: "Weather in Oslo?" };

describe.each(WIRES)("$name wire", (wire) => {
  let session: WireSession;
  beforeAll(async () => {
    session = await wire.start();
  });
  afterAll(async () => {
    await session?.close();
  });
  beforeEach(() => session.reset());

  const scenario = (name: Scenario, title: string, test: () => Promise<void>) => {
    const reason = wire.skips[name];
    if (reason !== undefined) it.skip(`${title} — skipped: ${reason}`, test);
    else it(title, test);
  };

  function complete(request: Omit<CompleteChat, "model">, signal = new AbortController().signal) {
    return session.client.completeChat({
      upstreamModel: wire.upstreamModel,
      modelMaxTokens: MODEL_MAX_TOKENS,
      request: { model: "conformance-model", ...request },
      signal,
    });
  }

  async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }

  function onlySent() {
    const sent = session.sentChats();
    // Exactly one request: the SDKs' own retries are off, routing owns retrying.
    expect(sent).toHaveLength(1);
    return sent[0]!;
  }

  it("plain chat", async () => {
    const outcome = await complete({ messages: [{ role: "user", content: "Hello there" }] });
    expect(outcome).toMatchObject({
      content: "echo: Hello there",
      finishReason: "stop",
      rawFinishReason: wire.rawFinish.stop,
      warnings: [],
    });
    expect(outcome.usage?.promptTokens).toBeGreaterThan(0);
    const sent = onlySent();
    expect(sent).toMatchObject({
      model: wire.upstreamModel,
      items: [{ role: "user", text: "Hello there" }],
      maxTokens: wire.alwaysSendsMaxTokens ? MODEL_MAX_TOKENS : undefined,
      toolNames: [],
      credentialsAsConfigured: true,
    });
  });

  it("system prompt", async () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Hello there" },
    ];
    expect((await complete({ messages })).content).toBe("echo: Hello there");
    expect(onlySent().items).toEqual([
      { role: "system", text: "You are terse." },
      { role: "user", text: "Hello there" },
    ]);
  });

  it("multi-turn conversation", async () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello! How can I help?" },
      { role: "user", content: "Tell me a joke" },
    ];
    expect((await complete({ messages })).content).toBe("echo: Tell me a joke");
    expect(onlySent().items).toEqual([
      { role: "user", text: "Hi" },
      { role: "assistant", text: "Hello! How can I help?" },
      { role: "user", text: "Tell me a joke" },
    ]);
  });

  it("function call round trip (tools / tool_calls)", async () => {
    session.answerWith({ text: null, toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] });
    const first = await complete({ messages: [askWeather], tools: [weatherTool] });
    expect(first).toMatchObject({
      content: null,
      finishReason: "function_call",
      rawFinishReason: wire.rawFinish.toolCalls,
    });
    expect(first.toolCalls).toHaveLength(1);
    const call = first.toolCalls![0]!;
    expect(call).toMatchObject({ type: "function", function: { name: "get_weather" } });
    expect(call.id).not.toBe("");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "Oslo" });
    expect(session.sentChats()[0]!.toolNames).toEqual(["get_weather"]);

    session.reset();
    const second = await complete({
      messages: [
        askWeather,
        { role: "assistant", content: null, tool_calls: first.toolCalls! },
        { role: "tool", tool_call_id: call.id, content: "3 °C" },
      ],
      tools: [weatherTool],
    });
    expect(second).toMatchObject({ content: "echo: 3 °C", finishReason: "stop" });
    expect(onlySent().items).toEqual([
      { role: "user", text: "Weather in Oslo?" },
      { role: "assistant", call: { name: "get_weather", arguments: { city: "Oslo" } } },
      { role: "tool", answers: "get_weather", text: "3 °C" },
    ]);
  });

  it("function call round trip (the seed's legacy functions / function_call)", async () => {
    session.answerWith({
      text: null,
      toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }],
      legacy: true,
    });
    const first = await complete({ messages: [askWeather], functions: [weatherTool.function] });
    expect(first).toMatchObject({ finishReason: "function_call", functionCall: { name: "get_weather" } });
    expect(first.toolCalls).toBeUndefined();
    expect(JSON.parse(first.functionCall!.arguments)).toEqual({ city: "Oslo" });

    session.reset();
    await complete({
      messages: [
        askWeather,
        { role: "assistant", content: null, function_call: first.functionCall! },
        { role: "function", name: "get_weather", content: "3 °C" },
      ],
      functions: [weatherTool.function],
    });
    expect(onlySent().items).toEqual([
      { role: "user", text: "Weather in Oslo?" },
      { role: "assistant", call: { name: "get_weather", arguments: { city: "Oslo" } } },
      { role: "tool", answers: "get_weather", text: "3 °C" },
    ]);
  });

  it("length stop", async () => {
    const outcome = await complete({ messages: [{ role: "user", content: "Hello there" }], max_tokens: 2 });
    expect(outcome).toMatchObject({
      content: "echo: Hello",
      finishReason: "length",
      rawFinishReason: wire.rawFinish.length,
    });
    expect(onlySent().maxTokens).toBe(2);
  });

  scenario("content filter", "content filter", async () => {
    session.answerWith({ contentFilter: true });
    const outcome = await complete({ messages: [{ role: "user", content: "Something harmful" }] });
    expect(outcome).toMatchObject({
      finishReason: "content_filter",
      rawFinishReason: wire.rawFinish.contentFilter,
    });
    expect(onlySent().items).toEqual([{ role: "user", text: "Something harmful" }]);
  });

  it("usage", async () => {
    session.answerWith({ usage: { promptTokens: 1_234, completionTokens: 56 } });
    const outcome = await complete({ messages: [{ role: "user", content: "Count me" }] });
    expect(outcome.usage).toEqual({ promptTokens: 1_234, completionTokens: 56 });
    expect(outcome.warnings).toEqual([]);
    onlySent();
  });

  it.each([
    [400, "bad_request"],
    [401, "auth"],
    [404, "not_found"],
    [429, "rate_limited"],
    [500, "server_error"],
    [503, "overloaded"],
  ] as const)("HTTP %i → %s", async (status, failureClass) => {
    session.failWith({ kind: "status", status });
    const error = await failure(complete({ messages: [{ role: "user", content: "Hello" }] }));
    expect(error).toMatchObject({ failure: failureClass, status, retryAfterMs: undefined });
    expect(error.message).toMatch(new RegExp(`^provider answered ${status}: \\S`));
    onlySent();
  });

  it("HTTP 429 with retry-after", async () => {
    session.failWith({ kind: "status", status: 429, retryAfterSeconds: 7 });
    const error = await failure(complete({ messages: [{ role: "user", content: "Hello" }] }));
    expect(error).toMatchObject({ failure: "rate_limited", status: 429, retryAfterMs: 7_000 });
    onlySent();
  });

  it("timeout: the attempt's signal cuts the HTTP call", async () => {
    session.failWith({ kind: "hang" });
    const target: Target = {
      model: {
        model_name: "conformance-model",
        provider_id: session.client.providerId,
        upstream_model: wire.upstreamModel,
        context_window: 8_192,
        max_tokens: MODEL_MAX_TOKENS,
        cost: { input_per_million: 0, output_per_million: 0 },
        features: { ...DEFAULT_MODEL_FEATURES, function_calling: true },
      },
      provider: {
        id: session.client.providerId,
        provider_type: "openai",
        endpoint: "http://unused",
        is_active: true,
        headers: {},
        config: ProviderConfigSchema.parse({ timeout_ms: 300, max_retries: 0 }),
      },
    };
    // Routing aborts the attempt after timeout_ms; a wire that ignored the signal would hang here.
    const error = await executeWithFallback(
      { targets: [target], deadline: performance.now() + 10_000 },
      (_target, signal) => complete({ messages: [{ role: "user", content: "Hello" }] }, signal),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LlmProviderError);
    expect(error).toMatchObject({ code: "upstream_timeout", details: { failure: "timeout" } });
    onlySent();
  });

  it("connection reset", async () => {
    session.failWith({ kind: "reset" });
    expect(await failure(complete({ messages: [{ role: "user", content: "Hello" }] }))).toMatchObject({
      failure: "connection",
    });
    onlySent();
  });

  it("malformed JSON", async () => {
    session.failWith({ kind: "malformed" });
    expect(await failure(complete({ messages: [{ role: "user", content: "Hello" }] }))).toMatchObject({
      failure: "malformed_response",
    });
    onlySent();
  });

  scenario("embeddings", "embeddings: one input", async () => {
    const outcome = await session.client.generateEmbeddings!({
      upstreamModel: wire.embeddingModel,
      inputs: ["hello"],
      signal: new AbortController().signal,
    });
    expect(outcome.vectors).toHaveLength(1);
    expect(outcome.vectors[0]!.length).toBeGreaterThan(0);
    expect(outcome.usage?.promptTokens).toBeGreaterThan(0);
    expect(session.sentEmbeddings()).toEqual([{ model: wire.embeddingModel, inputs: ["hello"] }]);
  });

  scenario("embeddings", "embeddings: a batch, in input order", async () => {
    const inputs = ["first", "second", "third"];
    const call = { upstreamModel: wire.embeddingModel, inputs, signal: new AbortController().signal };
    const batch = await session.client.generateEmbeddings!(call);
    const singles = await Promise.all(
      inputs.map((input) => session.client.generateEmbeddings!({ ...call, inputs: [input] })),
    );
    expect(batch.vectors).toEqual(singles.map((single) => single.vectors[0]));
    expect(session.sentEmbeddings()[0]).toEqual({ model: wire.embeddingModel, inputs });
  });
});
