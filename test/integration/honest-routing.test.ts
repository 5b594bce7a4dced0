import { LlmProviderError } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { embedderModel, startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";

/**
 * Every target of a chain that was passed over is in `attempts` with its reason, and an answer
 * from another model than the one asked for carries a warning saying so: provider `p0` has no key
 * (its variable is not set), `p1` answers, `p2` is taken out of service.
 */
let nats: NatsServerHandle;
let upstreams: FakeOpenAIServer[];
let service: TestService;

const NO_KEY = "API key env:LLM_TEST_UNSET_KEY of provider 'p0' is not set";

beforeAll(async () => {
  nats = await startNatsServer();
  upstreams = await Promise.all([startFakeOpenAIServer(), startFakeOpenAIServer(), startFakeOpenAIServer()]);
  const config = testConfig(
    nats.url,
    upstreams.map((upstream) => upstream.baseUrl),
    {
      fallback_chains: [
        { id: "keyless-first", models: ["model-0", "model-1"] },
        { id: "inactive-first", models: ["model-2", "model-1"] },
        { id: "embed-keyless-first", models: ["embedder", "embedder-p1"] },
      ],
    },
  );
  config.providers[0]!.api_key_ref = "env:LLM_TEST_UNSET_KEY";
  config.providers[2]!.is_active = false;
  config.models.push(embedderModel(), embedderModel({ model_name: "embedder-p1", provider_id: "p1" }), {
    ...config.models[0]!,
    model_name: "model-0-alone",
    upstream_model: "upstream-model-0",
  });
  service = await startTestService(config);
});

afterAll(async () => {
  await service?.stop();
  await Promise.all(upstreams?.map((upstream) => upstream.close()) ?? []);
  await nats?.stop();
});

const ask = (model: string) => ({ model, messages: [{ role: "user" as const, content: "Hello" }] });

describe("a request served by a fallback says so", () => {
  it("complete_chat lists the keyless target as skipped and warns that a fallback answered", async () => {
    const completion = await service.client.completeChat(ask("model-0"));
    expect(completion.model).toBe("model-1");
    expect(completion.attempts).toEqual([
      {
        provider_id: "p0",
        model: "model-0",
        outcome: "skipped",
        skip_reason: "no_api_key",
        reason: NO_KEY,
        latency_ms: 0,
      },
      { provider_id: "p1", model: "model-1", outcome: "success", latency_ms: expect.any(Number) },
    ]);
    expect(completion.warnings[0]).toBe(
      `answered by fallback model 'model-1' on provider 'p1'; requested model 'model-0' was not used: ${NO_KEY}`,
    );
    expect(upstreams[0]!.requests).toHaveLength(0);
  });

  it("stream_chat's terminal message carries the same attempts and warning", async () => {
    const stream = service.client.streamChat(ask("model-2"));
    for await (const _chunk of stream) {
      // drained: the answer itself is not what this test checks
    }
    const done = await stream.done;
    expect(done.attempts.map((a) => [a.provider_id, a.outcome, a.skip_reason])).toEqual([
      ["p2", "skipped", "provider_inactive"],
      ["p1", "success", undefined],
    ]);
    expect(done.warnings[0]).toContain("requested model 'model-2' was not used: provider 'p2' is not active");
  });

  it("generate_embedding warns when a fallback embedder answered", async () => {
    const result = await service.client.generateEmbedding({ model: "embedder", input: "fallback vectors" });
    expect(result.provider_id).toBe("p1");
    expect(result.warnings).toContain(
      `answered by fallback model 'embedder-p1' on provider 'p1'; requested model 'embedder' was not used: ${NO_KEY}`,
    );
  });

  it("a model no target can serve is refused before any call, naming the reason of each", async () => {
    const error = (await service.client
      .completeChat(ask("model-0-alone"))
      .catch((e: unknown) => e)) as LlmProviderError;
    expect(error).toBeInstanceOf(LlmProviderError);
    expect(error.code).toBe("upstream_unavailable");
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(`no provider can serve model 'model-0-alone' (p0/model-0-alone: ${NO_KEY})`);
    expect(error.details?.attempts).toEqual([
      {
        provider_id: "p0",
        model: "model-0-alone",
        outcome: "skipped",
        skip_reason: "no_api_key",
        reason: NO_KEY,
        latency_ms: 0,
      },
    ]);
  });
});
