// What only the Anthropic wire does, beyond the shared conformance suite: its headers, the
// settings the Messages API cannot take, its own error types, cache usage and replayed fixtures.
import { LlmProviderError } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { UpstreamError } from "../../services/llm-provider/src/domain/failure.js";
import type { ProviderClient } from "../../services/llm-provider/src/ports/provider-client.js";
import { startFakeAnthropicServer, type FakeAnthropicServer } from "../fakes/anthropic-server.js";
import { CONFORMANCE_API_KEY, createWireClient, providerSpec } from "./wire-session.js";

let fake: FakeAnthropicServer;
let client: ProviderClient;
let closeTransport: () => Promise<void>;

beforeAll(async () => {
  fake = await startFakeAnthropicServer({ apiKey: CONFORMANCE_API_KEY });
  ({ client, closeTransport } = createWireClient(
    providerSpec({
      id: "anthropic",
      provider_type: "anthropic",
      endpoint: fake.baseUrl,
      headers: { "x-team": "search" },
    }),
    CONFORMANCE_API_KEY,
  ));
});
afterAll(async () => {
  await closeTransport?.();
  await fake?.close();
});
beforeEach(() => fake.reset());

const hello = { model: "m", messages: [{ role: "user" as const, content: "Hello there" }] };
const chat = (request: Parameters<ProviderClient["completeChat"]>[0]["request"], modelMaxTokens = 512) =>
  client.completeChat({
    upstreamModel: "claude-sonnet-5-5",
    modelMaxTokens,
    request,
    signal: new AbortController().signal,
  });
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as UpstreamError,
  );

describe("anthropic wire", () => {
  it("sends the API version, the key and the configured headers", async () => {
    await chat(hello);
    expect(fake.requests[0]!.headers).toMatchObject({
      "anthropic-version": "2026-10-21",
      authorization: `Bearer ${CONFORMANCE_API_KEY}`,
      "x-team": "search",
      "x-stainless-retry-count": "0",
    });
  });

  it("does not send what the Messages API cannot take, and says so in warnings", async () => {
    const outcome = await chat({
      ...hello,
      temperature: 0.3,
      top_p: 0.9,
      seed: 1,
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
      response_format: { type: "json_object" },
    });
    // The fake refuses unknown fields as the API does, so an answer proves they were not sent.
    expect(outcome.content).toBe("echo: Hello there");
    expect(fake.requests[0]!.body).toEqual({
      model: "claude-sonnet-5-5",
      max_tokens: 512,
      messages: [{ role: "user", content: [{ type: "text", text: "Hello there" }] }],
    });
    expect(outcome.warnings).toEqual([
      "response_format json_object is not supported by Anthropic; use json_schema",
      "temperature is not supported by Anthropic and was not sent",
      "top_p is not supported by Anthropic and was not sent",
      "presence_penalty is not supported by Anthropic and was not sent",
      "frequency_penalty is not supported by Anthropic and was not sent",
      "seed is not supported by Anthropic and was not sent",
    ]);
  });

  it("classifies overloaded_error (529) and a prompt that is too long", async () => {
    fake.enqueue({ kind: "error", status: 529 });
    expect(await failureOf(chat(hello))).toMatchObject({
      failure: "overloaded",
      status: 529,
      providerCode: "overloaded_error",
    });
    fake.enqueue({
      kind: "error",
      status: 400,
      message: "prompt is too long: 208310 tokens > 200000 maximum",
    });
    expect(await failureOf(chat(hello))).toMatchObject({ failure: "context_window_exceeded", status: 400 });
  });

  it("is refused by the API with a wrong key", async () => {
    const wrong = createWireClient(
      providerSpec({ id: "a2", provider_type: "anthropic", endpoint: fake.baseUrl }),
      "sk-wrong-key-000000",
    );
    try {
      const error = await failureOf(
        wrong.client.completeChat({
          upstreamModel: "claude",
          modelMaxTokens: 64,
          request: hello,
          signal: new AbortController().signal,
        }),
      );
      expect(error).toMatchObject({ failure: "auth", status: 401, providerCode: "authentication_error" });
    } finally {
      await wrong.closeTransport();
    }
  });

  it("counts cache reads and writes into the prompt and keeps them apart", async () => {
    fake.setReply({
      usage: {
        input_tokens: 20,
        output_tokens: 5,
        cache_read_input_tokens: 1_800,
        cache_creation_input_tokens: 200,
      },
    });
    expect((await chat(hello)).usage).toEqual({
      promptTokens: 2_020,
      completionTokens: 5,
      cacheReadTokens: 1_800,
      cacheWriteTokens: 200,
    });
  });

  it("replays a recorded tool_use answer: text and call both come back", async () => {
    fake.enqueue({ kind: "fixture", name: "anthropic-tool-use.json" });
    const outcome = await chat({
      ...hello,
      tools: [{ type: "function", function: { name: "get_weather" } }],
    });
    expect(outcome).toMatchObject({
      content: "I'll check the weather in Oslo.",
      finishReason: "function_call",
      rawFinishReason: "tool_use",
      toolCalls: [
        {
          id: "toolu_01A09q90qw90lq917835lq9",
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
        },
      ],
      usage: { promptTokens: 384, completionTokens: 71 },
    });
  });

  it("refuses embeddings with a typed unsupported error", async () => {
    const error = await client.generateEmbeddings!({
      upstreamModel: "claude",
      inputs: ["x"],
      signal: new AbortController().signal,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LlmProviderError);
    expect(error).toMatchObject({ code: "unsupported", retryable: false });
    expect(fake.requests).toHaveLength(0);
  });
});
