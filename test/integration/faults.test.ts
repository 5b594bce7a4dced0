import type { LlmProviderError } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";

let nats: NatsServerHandle;
let primary: FakeOpenAIServer;
let secondary: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer();
  primary = await startFakeOpenAIServer();
  secondary = await startFakeOpenAIServer();
  const config = testConfig(nats.url, [primary.baseUrl, secondary.baseUrl], {
    fallback_chains: [
      {
        id: "chain",
        models: ["model-0", "model-1"],
        triggers: { error: true, rate_limit: false, timeout: true },
      },
    ],
    // A breaker that never opens here: these tests are about single requests.
    circuit_breaker: { failure_threshold: 1_000 },
  });
  config.providers[0]!.config = {
    ...config.providers[0]!.config,
    timeout_ms: 300,
    first_byte_timeout_ms: 300,
    max_retries: 2,
    retries: { rate_limited: 2 },
    retry_initial_backoff_ms: 50,
    retry_max_backoff_ms: 400,
  };
  service = await startTestService(config);
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([primary?.close(), secondary?.close()]);
  await nats?.stop();
});

beforeEach(() => {
  primary.reset();
  secondary.reset();
});

const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello" }] };

describe("failures that a retry can fix, and those it cannot", () => {
  it("a 500 once, then success: one retry, answered by the primary", async () => {
    primary.enqueue({ kind: "error", status: 500 });
    const completion = await service.client.completeChat(hello);
    expect(completion.provider_id).toBe("p0");
    expect(completion.attempts.map((a) => a.outcome)).toEqual(["error", "success"]);
  });

  it("a persistent 429 without retry-after is not hammered: bounded retries with growing backoff", async () => {
    for (let index = 0; index < 10; index++) primary.enqueue({ kind: "error", status: 429 });
    const started = performance.now();
    const error = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
    const elapsed = performance.now() - started;
    // max_retries 2 → 3 calls; rate_limit fallback is off in this chain, so the caller hears it.
    expect(primary.requests).toHaveLength(3);
    expect(secondary.requests).toHaveLength(0);
    expect(error).toMatchObject({ code: "rate_limited", retryable: true });
    // Backoff 50 ms then 100 ms (minus at most 25 % jitter) lies between the three calls.
    expect(elapsed).toBeGreaterThanOrEqual(110);
  });

  it("a provider that never answers is cut at its first-byte limit and the chain moves on at once", async () => {
    primary.enqueue({ kind: "hang" }, { kind: "hang" }, { kind: "hang" });
    const started = performance.now();
    const completion = await service.client.completeChat(hello);
    expect(completion.provider_id).toBe("p1");
    // A slow failure is not retried on the same provider while a fallback is left.
    expect(completion.attempts.map((a) => [a.provider_id, a.error_code])).toEqual([
      ["p0", "upstream_timeout"],
      ["p1", undefined],
    ]);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("context window exceeded is not retried on the same model (and no target has a larger window)", async () => {
    primary.enqueue({
      kind: "error",
      status: 400,
      code: "context_length_exceeded",
      message: "This model's maximum context length is 8192 tokens.",
    });
    const error = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
    expect(error).toMatchObject({ code: "context_length_exceeded", retryable: false });
    expect(primary.requests).toHaveLength(1);
    expect(secondary.requests).toHaveLength(0);
  });

  it("a content filter comes back as a clean error with the provider's reason, not routed around", async () => {
    primary.enqueue({
      kind: "error",
      status: 400,
      code: "content_filter",
      message: "The response was filtered.",
    });
    const error = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
    expect(error).toMatchObject({ code: "content_filtered", retryable: false });
    expect(error.message).toContain("The response was filtered.");
    expect(primary.requests).toHaveLength(1);
    expect(secondary.requests).toHaveLength(0);
  });
});
