import { LlmProviderError } from "@llm-provider/contracts";
import type { ProviderHealth } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";

let nats: NatsServerHandle;
let primary: FakeOpenAIServer;
let secondary: FakeOpenAIServer;
let workers: TestService[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  primary = await startFakeOpenAIServer();
  secondary = await startFakeOpenAIServer();
  const config = testConfig(nats.url, [primary.baseUrl, secondary.baseUrl], {
    fallback_chains: [{ id: "chain", models: ["model-0", "model-1"] }],
  });
  config.providers[0]!.config = { ...config.providers[0]!.config, rpm: 5 };
  config.providers[1]!.config = { ...config.providers[1]!.config, rpm: 3 };
  // Two workers in one queue group: the limit is the provider's, not each worker's.
  workers = [await startTestService(config), await startTestService(config)];
});

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await Promise.all([primary?.close(), secondary?.close()]);
  await nats?.stop();
});

const ask = (model: string) => ({ model, messages: [{ role: "user" as const, content: "Hello" }] });

describe("RPM limits across workers", () => {
  // Both tests run within one minute window unless the minute turns between them; the budget
  // then renews and the counts below would be higher, so each test checks its own window.
  it("lets exactly the limit through across both workers, then falls back without calling", async () => {
    const windowStart = Math.floor(Date.now() / 60_000);
    const results = [];
    for (let index = 0; index < 8; index++)
      results.push(await workers[index % 2]!.client.completeChat(ask("model-0")));
    const health = (await workers[0]!.client.getProviderHealth({ provider_id: "p0" })) as ProviderHealth;
    if (Math.floor(Date.now() / 60_000) !== windowStart) return; // the window turned mid-test: counts don't apply
    expect(primary.requests).toHaveLength(5);
    expect(results.filter((r) => r.provider_id === "p0")).toHaveLength(5);
    const fellBack = results.filter((r) => r.provider_id === "p1");
    expect(fellBack).toHaveLength(3);
    expect(fellBack[0]!.attempts.map((a) => `${a.provider_id}:${a.outcome}:${a.error_code}`)).toEqual([
      "p0:skipped:rate_limited",
      "p1:success:undefined",
    ]);
    expect(health.rate_limit_status).toBe("BLOCKED"); // all 5 of the window reserved, by either worker
  });

  it("without a fallback, a spent budget is a typed rate_limited error with a retry hint", async () => {
    const windowStart = Math.floor(Date.now() / 60_000);
    const outcomes = [];
    for (let index = 0; index < 5; index++) {
      outcomes.push(await workers[index % 2]!.client.completeChat(ask("model-1")).catch((e: unknown) => e));
    }
    if (Math.floor(Date.now() / 60_000) !== windowStart) return;
    const refused = outcomes.filter((o): o is LlmProviderError => o instanceof LlmProviderError);
    // model-1's provider allows 3 per minute (the fallbacks above may have spent them already).
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused[0]).toMatchObject({ code: "rate_limited" });
    expect(refused[0]!.retryAfterMs).toBeGreaterThan(0);
    expect(refused[0]!.retryAfterMs).toBeLessThanOrEqual(60_000);
  });
});
