import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { Subscription } from "@nats-io/nats-core";
import { LlmProviderError, POLICY_GATEWAY_SUBJECT } from "@llm-provider/contracts";
import type { PolicyDecision, PolicyEvaluationRequest } from "@llm-provider/contracts";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createBypassPolicyGate } from "../../services/llm-provider/src/infra/policy-gateway/bypass-policy-gate.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import {
  embedderModel,
  SINGLE_ACCOUNT_PRODUCTION,
  startTestService,
  testConfig,
  TEST_API_KEY,
} from "../support/service.js";
import type { TestService } from "../support/service.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;
let gateway: Subscription | undefined;
const asked: PolicyEvaluationRequest[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  service = await startTestService({
    ...testConfig(nats.url, [upstream.baseUrl]),
    // One account here: the caller is `anonymous`; test/security runs the gateway with accounts.
    ...SINGLE_ACCOUNT_PRODUCTION,
    policy_gateway: { bypass: false, subject: POLICY_GATEWAY_SUBJECT, timeout_ms: 300 },
    models: [...testConfig(nats.url, [upstream.baseUrl]).models, embedderModel()],
  });
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

beforeEach(() => {
  upstream.reset();
  asked.length = 0;
});

afterEach(() => {
  gateway?.unsubscribe();
  gateway = undefined;
});

/** A Policy Gateway stand-in on the real NATS server: records what it is asked, answers as told. */
async function serveGateway(
  answer: (
    request: PolicyEvaluationRequest,
  ) => PolicyDecision | string /* raw reply, or "silence" for none */,
) {
  gateway = service.nc.subscribe(POLICY_GATEWAY_SUBJECT, {
    callback: (_error, msg) => {
      const request = msg.json<PolicyEvaluationRequest>();
      asked.push(request);
      const decision = answer(request);
      if (decision === "silence") return;
      msg.respond(typeof decision === "string" ? decision : JSON.stringify(decision));
    },
  });
  await service.nc.flush();
}

const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello" }] };

describe("Policy Gateway in production", () => {
  it("asks before calling the provider and goes ahead on allow", async () => {
    await serveGateway(() => ({ decision: "allow" }));
    const completion = await service.client.completeChat(
      { ...hello, max_tokens: 100 },
      { requestId: "pg-allow" },
    );
    expect(completion.content).toBe("echo: Hello");
    expect(asked).toEqual([
      {
        request_id: "pg-allow",
        caller: "anonymous",
        source: "llm-provider",
        environment: "production",
        operation: "chat",
        model: "model-0",
        provider_id: "p0",
        estimated_tokens: expect.any(Number),
      },
    ]);
    // ceil(5 chars / 4) + 4 framing tokens + 100 max_tokens
    expect(asked[0]!.estimated_tokens).toBe(106);
  });

  it("asks before embedding too, and a deny reaches neither the cache nor the provider", async () => {
    await serveGateway((request) =>
      request.estimated_tokens > 10
        ? { decision: "deny", reason: "too big", policy_id: "EMB-1" }
        : { decision: "allow" },
    );
    const embedded = await service.client.generateEmbedding(
      { model: "embedder", input: ["short"] },
      { requestId: "pg-embed" },
    );
    expect(embedded.data[0]!.embedding).toHaveLength(8);
    expect(asked[0]).toMatchObject({
      request_id: "pg-embed",
      caller: "anonymous",
      operation: "embedding",
      model: "embedder",
      provider_id: "p0",
    });
    const calls = upstream.requests.length;
    const denied = (await service.client
      .generateEmbedding({ model: "embedder", input: ["a much longer text that is over the limit"] })
      .catch((e: unknown) => e)) as LlmProviderError;
    expect(denied).toMatchObject({ code: "policy_denied", policy: "EMB-1" });
    expect(upstream.requests).toHaveLength(calls);
    expect(asked).toHaveLength(2);
  });

  it("deny → policy_denied with the gateway's reason and policy; the provider is never called", async () => {
    await serveGateway(() => ({ decision: "deny", reason: "monthly budget spent", policy_id: "BUDGET-7" }));
    const error = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
    expect(error).toBeInstanceOf(LlmProviderError);
    expect(error).toMatchObject({
      code: "policy_denied",
      message: "monthly budget spent",
      policy: "BUDGET-7",
    });
    expect(error.retryable).toBe(false);
    expect(upstream.requests).toHaveLength(0);
  });

  it("no gateway listening → policy_unavailable (fails closed)", async () => {
    const error = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
    expect(error).toMatchObject({ code: "policy_unavailable", retryable: true });
    expect(error.message).toContain("no responders");
    expect(upstream.requests).toHaveLength(0);
  });

  it("a gateway that does not answer in time → policy_unavailable after the configured timeout", async () => {
    await serveGateway(() => "silence");
    const started = performance.now();
    const error = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
    expect(error.code).toBe("policy_unavailable");
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(upstream.requests).toHaveLength(0);
  });

  it("an answer that is not a decision → policy_unavailable", async () => {
    await serveGateway(() => '{"verdict":"sure"}');
    const error = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
    expect(error.code).toBe("policy_unavailable");
    expect(upstream.requests).toHaveLength(0);
  });

  it("list_models is a query and does not ask the gateway", async () => {
    await serveGateway(() => ({ decision: "deny" }));
    expect((await service.client.listModels()).data).toHaveLength(2);
    expect(asked).toHaveLength(0);
  });
});

describe("POL-LLM-005 per request", () => {
  it("the bypass gate refuses every request when the environment is not development", async () => {
    await expect(createBypassPolicyGate(() => "development").check(sampleCheck)).resolves.toBeUndefined();
    await expect(createBypassPolicyGate(() => "production").check(sampleCheck)).rejects.toMatchObject({
      code: "policy_unavailable",
      policy: "POL-LLM-005",
    });
  });
});

const sampleCheck = {
  requestId: "r",
  caller: "anonymous",
  operation: "chat" as const,
  model: "m",
  providerId: "p",
  estimatedTokens: 1,
  deadline: Number.MAX_SAFE_INTEGER,
  trace: ROOT_CONTEXT,
};

describe("circuit breaker around the Policy Gateway", () => {
  it("opens after repeated failures (refusing at once, without asking), probes once, and closes again", async () => {
    const ownNats = await startNatsServer({ jetstream: true });
    const ownService = await startTestService({
      ...testConfig(ownNats.url, [upstream.baseUrl]),
      ...SINGLE_ACCOUNT_PRODUCTION,
      policy_gateway: {
        bypass: false,
        timeout_ms: 500,
        breaker_failure_threshold: 2,
        breaker_cooldown_ms: 600,
      },
    });
    try {
      let answering = false;
      let asks = 0;
      const sub = ownService.nc.subscribe(POLICY_GATEWAY_SUBJECT, {
        callback: (_error, msg) => {
          asks++;
          if (answering) msg.respond(JSON.stringify({ decision: "allow" }));
        },
      });
      await ownService.nc.flush();
      const attempt = () =>
        ownService.client.completeChat(hello).catch((e: unknown) => e as LlmProviderError);

      // Two timeouts open the breaker.
      expect(await attempt()).toMatchObject({ code: "policy_unavailable" });
      expect(await attempt()).toMatchObject({ code: "policy_unavailable" });
      expect(asks).toBe(2);
      // Open: refused at once, the gateway is not asked.
      const started = performance.now();
      const refused = (await attempt()) as LlmProviderError;
      expect(performance.now() - started).toBeLessThan(500); // the gateway's timeout: not waited on
      expect(refused).toMatchObject({ code: "policy_unavailable" });
      expect(refused.message).toContain("circuit is open");
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(asks).toBe(2);

      // After the cool-down the gateway is back: the probe succeeds and traffic flows again.
      answering = true;
      await new Promise((resolve) => setTimeout(resolve, 650));
      const [first, second] = await Promise.all([attempt(), attempt()]);
      const outcomes = [first, second].map((r) => (r instanceof LlmProviderError ? r.code : "ok"));
      // Exactly one probe went through while half-open; the other was refused without asking.
      expect(outcomes.sort()).toEqual(["ok", "policy_unavailable"]);
      expect(asks).toBe(3);
      expect((await ownService.client.completeChat(hello)).content).toBe("echo: Hello");
      sub.unsubscribe();
    } finally {
      await ownService.stop();
      await ownNats.stop();
    }
  });
});
