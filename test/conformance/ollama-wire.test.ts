// What only the Ollama wire does, beyond the shared conformance suite.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { UpstreamError } from "../../services/llm-provider/src/domain/failure.js";
import type { ProviderClient } from "../../services/llm-provider/src/ports/provider-client.js";
import { startFakeOllamaServer, type FakeOllamaServer } from "../fakes/ollama-server.js";
import { CONFORMANCE_API_KEY, createWireClient, providerSpec } from "./wire-session.js";

let fake: FakeOllamaServer;
let client: ProviderClient;
let closeTransport: () => Promise<void>;

beforeAll(async () => {
  fake = await startFakeOllamaServer({
    models: ["llama3.2:3b", "qwen3:8b", "nomic-embed-text"],
    embedContextChars: 100,
  });
  ({ client, closeTransport } = createWireClient(
    providerSpec({ id: "ollama", provider_type: "ollama", endpoint: `${fake.baseUrl}/` }),
    undefined,
  ));
});
afterAll(async () => {
  await closeTransport?.();
  await fake?.close();
});
beforeEach(() => fake.reset());

const hello = { model: "m", messages: [{ role: "user" as const, content: "Hello there" }] };
const chat = (upstreamModel: string, request: Parameters<ProviderClient["completeChat"]>[0]["request"]) =>
  client.completeChat({ upstreamModel, modelMaxTokens: 512, request, signal: new AbortController().signal });
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as UpstreamError,
  );

describe("ollama wire", () => {
  it("asks /api/chat for one JSON answer, with settings in options and no credentials", async () => {
    await chat("llama3.2:3b", { ...hello, temperature: 0.1, max_tokens: 50, seed: 3 });
    const [request] = fake.requests;
    expect(request).toMatchObject({ method: "POST", path: "/api/chat" });
    expect(request!.headers.authorization).toBeUndefined();
    expect(request!.body).toEqual({
      model: "llama3.2:3b",
      messages: [{ role: "user", content: "Hello there" }],
      stream: false,
      options: { temperature: 0.1, num_predict: 50, seed: 3 },
    });
  });

  it("sends a configured key as a bearer token", async () => {
    const keyed = await startFakeOllamaServer({ apiKey: CONFORMANCE_API_KEY });
    const wire = createWireClient(
      providerSpec({ id: "cloud", provider_type: "ollama", endpoint: keyed.baseUrl }),
      CONFORMANCE_API_KEY,
    );
    try {
      await wire.client.completeChat({
        upstreamModel: "gpt-oss:120b",
        modelMaxTokens: 64,
        request: hello,
        signal: new AbortController().signal,
      });
      expect(keyed.requests[0]!.headers.authorization).toBe(`Bearer ${CONFORMANCE_API_KEY}`);
    } finally {
      await wire.closeTransport();
      await keyed.close();
    }
  });

  it("reports a model that is not pulled as not_found, in Ollama's words", async () => {
    const error = await failureOf(chat("llama9", hello));
    expect(error).toMatchObject({ failure: "not_found", status: 404 });
    expect(error?.message).toBe('provider answered 404: model "llama9" not found, try pulling it first');
  });

  it("replays a recorded tool-call answer", async () => {
    fake.enqueue({ kind: "fixture", name: "ollama-chat-tool-calls.json" });
    const outcome = await chat("qwen3:8b", {
      ...hello,
      tools: [{ type: "function", function: { name: "get_weather" } }],
    });
    expect(outcome).toMatchObject({
      responseModel: "qwen3:8b",
      content: null,
      finishReason: "function_call",
      rawFinishReason: "stop",
      usage: { promptTokens: 122, completionTokens: 33 },
    });
    expect(outcome.toolCalls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        type: "function",
        function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
      },
    ]);
  });

  it("turns an input longer than the embedding model's context into context_window_exceeded", async () => {
    const error = await failureOf(
      client.generateEmbeddings!({
        upstreamModel: "nomic-embed-text",
        inputs: ["x".repeat(101)],
        signal: new AbortController().signal,
      }),
    );
    expect(error).toMatchObject({ failure: "context_window_exceeded", status: 400 });
    expect(fake.requests[0]!.body).toMatchObject({ truncate: false });
  });
});
