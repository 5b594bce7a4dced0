import { headers as createHeaders } from "@nats-io/nats-core";
import { LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { Attempt } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { startTestService, testConfig, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";

let nats: NatsServerHandle;
let primary: FakeOpenAIServer;
let secondary: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer();
  primary = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  secondary = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  service = await startTestService(
    withSmallerSecondary(
      testConfig(nats.url, [primary.baseUrl, secondary.baseUrl], {
        fallback_chains: [{ id: "primary-then-secondary", models: ["model-0", "model-1"] }],
      }),
    ),
  );
});

/** The fallback model allows fewer output tokens than the primary. */
function withSmallerSecondary(config: ReturnType<typeof testConfig>) {
  config.models[1]!.max_tokens = 512;
  return config;
}

afterAll(async () => {
  await service?.stop();
  await Promise.all([primary?.close(), secondary?.close()]);
  await nats?.stop();
});

beforeEach(() => {
  primary.reset();
  secondary.reset();
});

const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello there" }] };

describe("complete_chat through the typed client", () => {
  it("answers with content, usage, cost, latency and the provider that answered", async () => {
    primary.setChatReply({
      content: "General Kenobi",
      usage: { prompt_tokens: 1_000, completion_tokens: 100 },
    });
    const completion = await service.client.completeChat(
      { ...hello, temperature: 0.3, max_tokens: 64 },
      { requestId: "req-typed-1" },
    );
    expect(completion).toMatchObject({
      request_id: "req-typed-1",
      model: "model-0",
      provider_id: "p0",
      content: "General Kenobi",
      finish_reason: "stop",
      raw_finish_reason: "stop",
      usage: {
        prompt_tokens: 1_000,
        completion_tokens: 100,
        total_tokens: 1_100,
        // 1000 × $2/M + 100 × $10/M
        cost: { currency: "USD", input: 0.002, output: 0.001, total: 0.003 },
      },
      warnings: [],
    });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.upstream_id).toMatch(/^chatcmpl-/);
    expect(completion.latency_ms).toBeGreaterThan(0);
    expect(completion.attempts).toEqual([
      { provider_id: "p0", model: "model-0", outcome: "success", latency_ms: expect.any(Number) },
    ]);

    // What reached the provider: the upstream model name, the settings, the key — nothing else.
    expect(primary.requests).toHaveLength(1);
    const sent = primary.requests[0]!;
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`);
    expect(sent.body).toEqual({
      model: "upstream-model-0",
      messages: [{ role: "user", content: "Hello there" }],
      temperature: 0.3,
      // OpenAI's own API takes the cap as max_completion_tokens (its reasoning models refuse max_tokens).
      max_completion_tokens: 64,
    });
  });

  it("maps a length stop and a tool call", async () => {
    primary.setChatReply({
      content: null,
      finish_reason: "tool_calls",
      tool_calls: [
        { id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } },
      ],
      usage: { prompt_tokens: 20, completion_tokens: 5 },
    });
    const toolCompletion = await service.client.completeChat({
      ...hello,
      tools: [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }],
    });
    expect(toolCompletion.finish_reason).toBe("function_call");
    expect(toolCompletion.raw_finish_reason).toBe("tool_calls");
    expect(toolCompletion.tool_calls).toEqual([
      { id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } },
    ]);

    primary.reset(); // the echo again
    const truncated = await service.client.completeChat({
      model: "model-0",
      messages: [{ role: "user", content: "one two three four five six" }],
      max_tokens: 2,
    });
    expect(truncated.finish_reason).toBe("length");
  });
});

describe("complete_chat through a raw NATS request (as `nats req` sends it)", () => {
  it("accepts a hand-written JSON body and echoes the Request-Id header", async () => {
    const hdrs = createHeaders();
    hdrs.set("Request-Id", "raw-42");
    const body =
      '{"model":"model-0","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}';
    const reply = await service.nc.request(SUBJECTS.completeChat, body, { timeout: 5_000, headers: hdrs });
    expect(reply.headers?.get("Nats-Service-Error-Code") ?? "").toBe("");
    expect(reply.headers?.get("Request-Id")).toBe("raw-42");
    const completion = reply.json<Record<string, unknown>>();
    expect(completion).toMatchObject({ request_id: "raw-42", content: "echo: Hi", finish_reason: "stop" });
  });
});

describe("upstream failures", () => {
  it("honours retry-after on a 429 and succeeds on the retry", async () => {
    primary.enqueue({
      kind: "error",
      status: 429,
      code: "rate_limit_exceeded",
      headers: { "retry-after-ms": "120" },
    });
    const started = performance.now();
    const completion = await service.client.completeChat(hello);
    expect(performance.now() - started).toBeGreaterThanOrEqual(120);
    expect(completion.attempts.map((a) => a.outcome)).toEqual(["error", "success"]);
    expect(completion.attempts[0]!.error_code).toBe("rate_limited");
    expect(primary.requests).toHaveLength(2);
  });

  it("retries a connection reset, then falls back along the chain when the primary keeps failing", async () => {
    primary.enqueue({ kind: "reset" }, { kind: "error", status: 500 }, { kind: "error", status: 503 });
    const completion = await service.client.completeChat(hello);
    expect(completion.provider_id).toBe("p1");
    expect(completion.model).toBe("model-1");
    expect(completion.attempts.map((a) => `${a.provider_id}:${a.outcome}`)).toEqual([
      "p0:error",
      "p0:error",
      "p0:error",
      "p1:success",
    ]);
    // Only the answering call is billed: the secondary's model and prices.
    expect(secondary.requests[0]!.body).toMatchObject({ model: "upstream-model-1" });
  });

  it("never falls back to a target that cannot take the request", async () => {
    primary.enqueue(
      { kind: "error", status: 503 },
      { kind: "error", status: 503 },
      { kind: "error", status: 503 },
    );
    const error = (await service.client
      .completeChat({ ...hello, max_tokens: 1_000 }) // model-1 allows only 512
      .catch((e: unknown) => e)) as LlmProviderError;
    expect(error.code).toBe("upstream_unavailable");
    expect(primary.requests).toHaveLength(2); // one retry of an overloaded provider
    expect(secondary.requests).toHaveLength(0);
    expect((error.details?.attempts as Attempt[]).at(-1)).toEqual({
      provider_id: "p1",
      model: "model-1",
      outcome: "skipped",
      skip_reason: "missing_capability",
      reason: "max_tokens 1000 exceeds model 'model-1' limit of 512",
      latency_ms: 0,
    });
  });

  it("does not retry or fall back on a bad request, and says why", async () => {
    primary.enqueue({
      kind: "error",
      status: 400,
      message: "Invalid value for 'temperature'",
      param: "temperature",
    });
    const error = await service.client.completeChat(hello).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmProviderError);
    expect(error).toMatchObject({ code: "upstream_bad_request", retryable: false });
    expect((error as LlmProviderError).message).toContain("Invalid value for 'temperature'");
    expect(primary.requests).toHaveLength(1);
    expect(secondary.requests).toHaveLength(0);
  });

  it("reports a malformed provider body as such after retrying it", async () => {
    primary.enqueue({ kind: "malformed" }, { kind: "malformed" }, { kind: "malformed" });
    secondary.enqueue({ kind: "malformed" }, { kind: "malformed" }, { kind: "malformed" });
    const error = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
    expect(error.code).toBe("upstream_malformed_response");
    // One retry each (a JSON body where a stream was asked for is malformed too), then the fallback.
    expect(primary.requests.length + secondary.requests.length).toBe(4);
  });

  it("cuts a provider that never answers at the request deadline", async () => {
    primary.enqueue({ kind: "hang" }, { kind: "hang" }, { kind: "hang" });
    secondary.enqueue({ kind: "hang" }, { kind: "hang" }, { kind: "hang" });
    const started = performance.now();
    const error = (await service.client
      .completeChat({ ...hello, timeout_ms: 400 }, { timeoutMs: 3_000 })
      .catch((e: unknown) => e)) as LlmProviderError;
    const elapsed = performance.now() - started;
    expect(["deadline_exceeded", "upstream_timeout"]).toContain(error.code);
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(2_500);
  });
});

describe("list_models", () => {
  it("lists every configured model in OpenAI's list format and filters by provider", async () => {
    const all = await service.client.listModels();
    expect(all.object).toBe("list");
    expect(all.data.map((m) => m.id)).toEqual(["model-0", "model-1"]);
    expect(all.data[0]).toEqual({
      id: "model-0",
      object: "model",
      created: expect.any(Number),
      owned_by: "p0",
      model_name: "model-0",
      provider_id: "p0",
      provider_name: "Provider 0",
      provider_type: "openai",
      context_window: 8_192,
      max_tokens: 1_024,
      cost_metrics: { currency: "USD", input_per_million: 2, output_per_million: 10 },
      feature_flags: {
        chat: true,
        embedding: false,
        function_calling: true,
        streaming: true,
        assistant_prefill: false,
      },
      capabilities: {
        vision: false,
        files: false,
        reasoning: false,
        prompt_caching: false,
        tools: true,
        structured_output: true,
        streaming: true,
      },
      is_available: true,
    });
    const filtered = await service.client.listModels({ provider_id: "p1" });
    expect(filtered.data.map((m) => m.id)).toEqual(["model-1"]);
  });

  it("answers an empty raw request and refuses an unknown provider", async () => {
    const reply = await service.nc.request(SUBJECTS.listModels, "", { timeout: 2_000 });
    expect(reply.json<{ data: unknown[] }>().data).toHaveLength(2);
    const error = (await service.client
      .listModels({ provider_id: "nope" })
      .catch((e: unknown) => e)) as LlmProviderError;
    expect(error).toMatchObject({ code: "unknown_provider", field: "provider_id" });
  });
});

describe("micro service discovery", () => {
  it("answers $SRV.PING, INFO and STATS with the endpoints, queue group and our own counters", async () => {
    const ping = (await service.nc.request("$SRV.PING.llm-provider", "", { timeout: 2_000 })).json<{
      name: string;
    }>();
    expect(ping.name).toBe("llm-provider");
    const info = (await service.nc.request("$SRV.INFO.llm-provider", "", { timeout: 2_000 })).json<{
      endpoints: Array<{ subject: string; queue_group: string }>;
    }>();
    expect(info.endpoints.map((e) => e.subject).sort()).toEqual(
      [
        SUBJECTS.completeChat,
        SUBJECTS.streamChat,
        SUBJECTS.resumeStream,
        SUBJECTS.generateEmbedding,
        SUBJECTS.createJob,
        SUBJECTS.sealJob,
        SUBJECTS.cancelJob,
        SUBJECTS.getJob,
        SUBJECTS.getJobResults,
        SUBJECTS.getProviderHealth,
        SUBJECTS.listModels,
        SUBJECTS.getSpend,
      ].sort(),
    );
    expect(new Set(info.endpoints.map((e) => e.queue_group))).toEqual(new Set(["llm-provider"]));
    const unknown = { model: "no-such-model", messages: hello.messages };
    await service.client.completeChat(unknown).catch(() => undefined);
    const stats = (await service.nc.request("$SRV.STATS.llm-provider", "", { timeout: 2_000 })).json<{
      endpoints: Array<{
        subject: string;
        num_requests: number;
        num_errors: number;
        last_error: string;
        average_processing_time: number;
        data: { requests: number; errors: number; errors_by_code: Record<string, number> };
      }>;
    }>();
    const chat = stats.endpoints.find((e) => e.subject === SUBJECTS.completeChat)!;
    expect(chat.data.requests).toBeGreaterThan(0);
    expect(chat.data.errors_by_code.upstream_bad_request).toBeGreaterThanOrEqual(1);
    // The framework's own fields say what was answered, errors included (the latest one last).
    expect(chat.num_requests).toBe(chat.data.requests);
    expect(chat.num_errors).toBe(chat.data.errors);
    expect(chat.num_errors).toBeGreaterThanOrEqual(2);
    expect(chat.last_error).toBe("unknown_model: model 'no-such-model' is not configured");
    expect(chat.average_processing_time).toBeGreaterThan(0);
  });
});
