import type { ChatCompletion } from "@llm-provider/contracts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { until } from "../support/until.js";

/**
 * One model name served by two deployments (providers p0 and p1, each a fake OpenAI server), and
 * a third model on p2 as its fallback chain's next model.
 */
let nats: NatsServerHandle;
let servers: FakeOpenAIServer[] = [];
let service: TestService | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
  servers = await Promise.all([startFakeOpenAIServer(), startFakeOpenAIServer(), startFakeOpenAIServer()]);
});

afterEach(async () => {
  await service?.stop();
  service = undefined;
  for (const server of servers) server.reset();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await nats?.stop();
});

/** `model-0` deployed on p0 and p1 (weights as given), `model-2` on p2 after it in a chain. */
function deployedConfig(
  weights: [number, number],
  balancing: NonNullable<ConfigInput["models"][number]["balancing"]>,
  overrides: Partial<ConfigInput> = {},
): ConfigInput {
  const config = testConfig(
    nats.url,
    servers.map((server) => server.baseUrl),
    overrides,
  );
  const [first, second, third] = config.models;
  config.models = [
    { ...first!, weight: weights[0], balancing },
    { ...second!, model_name: first!.model_name, upstream_model: first!.upstream_model, weight: weights[1] },
    third!,
  ];
  config.fallback_chains = [{ id: "chain", models: ["model-0", "model-2"] }];
  for (const provider of config.providers) provider.config = { ...provider.config, max_retries: 0 };
  return config;
}

const ask = (content = "Hello") => ({ model: "model-0", messages: [{ role: "user" as const, content }] });

/** Sends `count` requests, `concurrency` at a time; every one must be answered. */
async function sendAll(count: number, concurrency: number, request = ask): Promise<ChatCompletion[]> {
  const answers: ChatCompletion[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        answers.push(await service!.client.completeChat(request(`question ${index}`)));
      }
    }),
  );
  return answers;
}

const shareOf = (answers: ChatCompletion[], providerId: string) =>
  answers.filter((answer) => answer.provider_id === providerId).length / answers.length;

describe("a model served by two deployments", () => {
  it("splits traffic by weight: 3:1 gives p0 75 % of 500 requests, within ±10 points (over 5 standard deviations)", async () => {
    service = await startTestService(deployedConfig([3, 1], "weighted"));
    const answers = await sendAll(500, 16);
    expect(answers).toHaveLength(500);
    const share = shareOf(answers, "p0");
    expect(share).toBeGreaterThan(0.65);
    expect(share).toBeLessThan(0.85);
    expect(shareOf(answers, "p1")).toBeCloseTo(1 - share, 10);
    // Each answered where it says: the upstream calls match the answers.
    expect(servers[0]!.requests.length).toBe(Math.round(share * 500));
    expect(servers[1]!.requests.length).toBe(500 - Math.round(share * 500));
    // The upstream model name went to both deployments as configured.
    expect(new Set(servers[1]!.requests.map((r) => (r.body as { model: string }).model))).toEqual(
      new Set(["upstream-model-0"]),
    );

    const listed = await service.client.listModels();
    const spec = listed.data.find((model) => model.id === "model-0")!;
    expect(spec.balancing).toBe("weighted");
    expect(spec.deployments).toEqual([
      { provider_id: "p0", provider_type: "openai", weight: 3, is_available: true },
      { provider_id: "p1", provider_type: "openai", weight: 1, is_available: true },
    ]);
    expect(listed.data.map((model) => model.id)).toEqual(["model-0", "model-2"]);
  }, 60_000);

  it("falls back along the chain only once every deployment of the model failed", async () => {
    service = await startTestService(deployedConfig([1, 1], "weighted"));
    servers[0]!.setModelBehavior("upstream-model-0", { kind: "error", status: 500 });
    servers[1]!.setModelBehavior("upstream-model-0", { kind: "error", status: 500 });
    const answer = await service.client.completeChat(ask());
    expect(answer.provider_id).toBe("p2");
    expect(answer.model).toBe("model-2");
    const tried = answer.attempts.map((a) => `${a.provider_id}/${a.model}:${a.outcome}`);
    expect(tried.slice(0, 2).sort()).toEqual(["p0/model-0:error", "p1/model-0:error"]);
    expect(tried[2]).toBe("p2/model-2:success");
  });

  it("least_busy sends new requests to the deployment with fewer calls in flight", async () => {
    service = await startTestService(deployedConfig([1, 1], "least_busy"));
    // p0 holds each call 3 s, p1 answers at once. By weight alone each would get half; least_busy
    // sends p0 a call only while p1 has as many in flight, which 4 callers allow about twice.
    servers[0]!.setModelBehavior("upstream-model-0", { kind: "delay", ms: 3_000 });
    const answers = await sendAll(40, 4);
    expect(answers).toHaveLength(40);
    expect(answers.filter((answer) => answer.provider_id === "p0").length).toBeLessThanOrEqual(8);
  }, 60_000);

  it("prompt_cache_affinity keeps every request with the same long prefix on one deployment", async () => {
    service = await startTestService(deployedConfig([1, 1], "prompt_cache_affinity"));
    const systems = Array.from(
      { length: 16 },
      (_, index) => `Instructions set ${index}. ${"Be precise. ".repeat(400)}`,
    );
    const landed = new Map<number, Set<string>>();
    await Promise.all(
      systems.map(async (system, index) => {
        for (let turn = 0; turn < 5; turn++) {
          const answer = await service!.client.completeChat({
            model: "model-0",
            messages: [
              { role: "system", content: system },
              { role: "user", content: `turn ${turn}` },
            ],
          });
          landed.set(index, (landed.get(index) ?? new Set()).add(answer.provider_id));
        }
      }),
    );
    for (const providers of landed.values()) expect(providers.size).toBe(1);
    // Different prefixes spread over both deployments (all 16 on one: 2 × 2^-16).
    const used = new Set([...landed.values()].flatMap((providers) => [...providers]));
    expect(used).toEqual(new Set(["p0", "p1"]));
  });
  // Last: the breaker it opens is shared state that outlives the worker.
  it("drains a failing deployment: its failures are rescued by the other, its breaker opens, and it gets no more calls", async () => {
    service = await startTestService(
      deployedConfig([1, 1], "weighted", { circuit_breaker: { failure_threshold: 3, cooldown_ms: 60_000 } }),
    );
    servers[1]!.setModelBehavior("upstream-model-0", { kind: "error", status: 503 });
    const before = await sendAll(60, 4);
    // No request failed: a 503 on p1 went on to p0, the model's other deployment, at once.
    expect(before.every((answer) => answer.provider_id === "p0")).toBe(true);
    const rescued = before.filter((answer) => answer.attempts.length > 1);
    expect(rescued.length).toBeGreaterThan(0);
    for (const answer of rescued) {
      expect(answer.attempts.map((a) => `${a.provider_id}:${a.outcome}`)).toEqual(["p1:error", "p0:success"]);
    }
    await until("p1's breaker open", () => !service!.app.isProviderAvailable("p1"));
    const callsWhenOpen = servers[1]!.requests.length;
    expect(callsWhenOpen).toBeLessThanOrEqual(3 + 4); // the threshold, plus what was in flight

    const after = await sendAll(100, 4);
    expect(after.every((answer) => answer.provider_id === "p0")).toBe(true);
    // A deployment with its breaker open is ordered last: not called, not even listed as skipped.
    expect(after.every((answer) => answer.attempts.length === 1)).toBe(true);
    expect(servers[1]!.requests.length).toBe(callsWhenOpen);
    expect(servers[2]!.requests).toHaveLength(0); // the chain's next model was never needed
    const spec = (await service.client.listModels()).data.find((model) => model.id === "model-0")!;
    expect(spec.is_available).toBe(true);
    expect(spec.deployments?.map((d) => d.is_available)).toEqual([true, false]);
  });
});
