// stream_chat over NATS against the Anthropic and Ollama wires, through the real service: the
// answer arrives in numbered chunks with one terminal message, and a primary cut before its first
// chunk is left for the fallback without the caller noticing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropicServer, type FakeAnthropicServer } from "../fakes/anthropic-server.js";
import { startFakeOllamaServer, type FakeOllamaServer } from "../fakes/ollama-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import { collectStream } from "../support/streams.js";
import { multiWireConfig, startTestService, type TestService } from "../support/service.js";

const ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef";
const STREAM_LIMITS = {
  timeout_ms: 5_000,
  max_retries: 0,
  stream_first_chunk_timeout_ms: 1_000,
  stream_idle_timeout_ms: 1_000,
};
const STREAMING = { chat: true, embedding: false, function_calling: true, streaming: true };

let nats: NatsServerHandle;
let anthropic: FakeAnthropicServer;
let ollama: FakeOllamaServer;
let service: TestService;

beforeAll(async () => {
  [nats, anthropic, ollama] = await Promise.all([
    startNatsServer(),
    startFakeAnthropicServer({ apiKey: ANTHROPIC_KEY }),
    startFakeOllamaServer({ models: ["llama3.2:3b"] }),
  ]);
  const config = multiWireConfig(
    nats.url,
    [
      {
        provider: {
          id: "anthropic",
          provider_type: "anthropic",
          endpoint: anthropic.baseUrl,
          api_key_ref: "env:ANTHROPIC_KEY",
          config: STREAM_LIMITS,
        },
        model: {
          model_name: "claude",
          upstream_model: "claude-sonnet-5-5",
          cost: { input_per_million: 3, output_per_million: 15 },
          features: STREAMING,
        },
      },
      {
        provider: { id: "ollama", provider_type: "ollama", endpoint: ollama.baseUrl, config: STREAM_LIMITS },
        model: { model_name: "llama", upstream_model: "llama3.2:3b", features: STREAMING },
      },
    ],
    { fallback_chains: [{ id: "claude-then-llama", models: ["claude", "llama"] }] },
  );
  service = await startTestService(config, { ANTHROPIC_KEY });
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([anthropic?.close(), ollama?.close()]);
  await nats?.stop();
});

beforeEach(() => {
  anthropic.reset();
  ollama.reset();
});

const ask = (model: string, content: string) => ({ model, messages: [{ role: "user" as const, content }] });

describe("stream_chat on the Anthropic and Ollama wires", () => {
  it("Anthropic: SSE events become numbered chunks and one terminal message with usage and cost", async () => {
    const stream = service.client.streamChat(ask("claude", "one two three"), { requestId: "claude-1" });
    const { chunks, text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(text).toBe("echo: one two three");
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    expect(chunks.map((chunk) => chunk.seq)).toEqual(chunks.map((_chunk, index) => index));
    const done = await stream.done;
    expect(done).toMatchObject({
      type: "done",
      seq: chunks.length,
      provider_id: "anthropic",
      finish_reason: "stop",
      raw_finish_reason: "end_turn",
    });
    expect(done.usage.prompt_tokens).toBeGreaterThan(0);
    expect(done.usage.cost.total).toBeGreaterThan(0);
    expect(anthropic.requests).toHaveLength(1);
    expect(anthropic.requests[0]!.body).toMatchObject({
      model: "claude-sonnet-5-5",
      stream: true,
      max_tokens: 1_024,
    });
  });

  it("Ollama: NDJSON lines become numbered chunks and one terminal message", async () => {
    const stream = service.client.streamChat(ask("llama", "four five"));
    const { text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(text).toBe("echo: four five");
    expect(await stream.done).toMatchObject({
      provider_id: "ollama",
      finish_reason: "stop",
      raw_finish_reason: "stop",
    });
    expect(ollama.requests[0]!.body).toMatchObject({ model: "llama3.2:3b", stream: true });
  });

  it("an Anthropic stream cut before its first chunk falls back to Ollama, unseen by the caller", async () => {
    anthropic.enqueue({ kind: "stream_fault", after: 1, fault: "cut" }); // message_start only
    const stream = service.client.streamChat(ask("claude", "hello"));
    const { text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(text).toBe("echo: hello");
    const done = await stream.done;
    expect(done.provider_id).toBe("ollama");
    expect(done.attempts.map((attempt) => `${attempt.provider_id}:${attempt.outcome}`)).toEqual([
      "anthropic:error",
      "ollama:success",
    ]);
    expect(anthropic.requests).toHaveLength(1);
    expect(ollama.requests).toHaveLength(1);
  });

  it("an Anthropic overloaded_error after the first chunk ends the stream with a typed error, no fallback (rescue off)", async () => {
    anthropic.enqueue({ kind: "stream_fault", after: 4, fault: "error_event" });
    const { chunks, error } = await collectStream(
      service.client.streamChat({ ...ask("claude", "one two three"), stream_rescue: "off" }),
    );
    expect(chunks.length).toBeGreaterThanOrEqual(1);
    expect(error).toMatchObject({ code: "upstream_unavailable" });
    expect(ollama.requests).toHaveLength(0);
  });

  it("an Ollama stream without its done line is never reported as complete", async () => {
    ollama.enqueue({ kind: "stream_fault", after: 0, fault: "no_done" });
    const { chunks, error } = await collectStream(service.client.streamChat(ask("llama", "six seven")));
    expect(chunks.length).toBeGreaterThanOrEqual(1);
    expect(error).toMatchObject({ code: "upstream_unavailable" });
  });
});
