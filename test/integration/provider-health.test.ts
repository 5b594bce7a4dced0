import type { LlmProviderError } from "@llm-provider/contracts";
import type { AggregateHealth, ProviderHealth } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { embedderModel, startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { eventually } from "../support/until.js";

let nats: NatsServerHandle;
let primary: FakeOpenAIServer;
let secondary: FakeOpenAIServer;
let embedder: FakeOpenAIServer;
let workers: TestService[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  primary = await startFakeOpenAIServer();
  secondary = await startFakeOpenAIServer();
  embedder = await startFakeOpenAIServer();
  const endpoints = [primary.baseUrl, secondary.baseUrl, "http://127.0.0.1:1/v1", embedder.baseUrl];
  const config = testConfig(nats.url, endpoints, {
    fallback_chains: [{ id: "chain", models: ["model-0", "model-1"] }],
    health: { flush_interval_ms: 100 },
  });
  config.providers[0]!.config = { ...config.providers[0]!.config, max_retries: 0 };
  // Provider p3 embeds, for the embedding requests' share of the health record.
  config.providers[3]!.config = { ...config.providers[3]!.config, max_retries: 0 };
  config.models.push(embedderModel({ provider_id: "p3" }));
  // Provider p2 has no key: this worker can never call it.
  config.providers[2]!.api_key_ref = "env:NOT_SET_ANYWHERE";
  // Two workers in the same queue group share the load — and the HealthCache.
  workers = [await startTestService(config), await startTestService(config)];
});

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await Promise.all([primary?.close(), secondary?.close(), embedder?.close()]);
  await nats?.stop();
});

const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello" }] };

describe("get_provider_health", () => {
  it("reports what every worker saw, merged: counts, errors, last success, throttling", async () => {
    const client = workers[0]!.client;
    // The server picks a queue-group member at random, so 6 requests all land on one worker 1 time
    // in 32: keep asking until both have served (bounded), then check the sum.
    const served = () =>
      workers.map(
        (worker) =>
          (worker.app.service.metrics.snapshot("llm-provider.cmd.complete_chat", 0) as { requests: number })
            .requests,
      );
    let sent = 0;
    while (sent < 6 || (served().some((count) => count === 0) && sent < 64)) {
      await client.completeChat(hello);
      sent++;
    }
    primary.enqueue({ kind: "error", status: 429, code: "rate_limit_exceeded" });
    await client.completeChat(hello); // the 429 falls back to p1
    const total = sent + 1;
    const health = (await eventually(
      () => client.getProviderHealth({ provider_id: "p0" }),
      (value) => (value as ProviderHealth).request_count === total,
    )) as ProviderHealth;
    expect(health).toMatchObject({
      provider_id: "p0",
      request_count: total,
      error_count: 1,
      last_error: "rate_limited",
      rate_limit_status: "THROTTLED",
      is_healthy: true,
    });
    expect(health.health_score).toBeGreaterThan(0.5);
    expect(health.average_latency_ms).toBeGreaterThan(0);
    expect(Date.parse(health.last_success_timestamp!)).toBeGreaterThan(Date.now() - 10_000);
    // Both workers served some of the requests, and the numbers above are their sum.
    const counts = served();
    expect(counts.every((count) => count > 0)).toBe(true);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(total);
  });

  it("aggregates every provider and the status of each fallback chain", async () => {
    const aggregate = (await eventually(
      () => workers[1]!.client.getProviderHealth(),
      (value) =>
        (value as AggregateHealth).providers?.find((p) => p.provider_id === "p1")?.request_count === 1,
    )) as AggregateHealth;
    expect(aggregate.providers.map((p) => p.provider_id)).toEqual(["p0", "p1", "p2", "p3"]);
    const p2 = aggregate.providers.find((p) => p.provider_id === "p2")!;
    expect(p2).toMatchObject({ is_healthy: false, health_score: 0, rate_limit_status: "BLOCKED" });
    expect(aggregate.fallback_chains).toEqual([
      {
        chain_id: "chain",
        status: "healthy",
        targets: [
          { provider_id: "p0", model: "model-0", is_healthy: true },
          { provider_id: "p1", model: "model-1", is_healthy: true },
        ],
      },
    ]);
    expect(aggregate.is_healthy).toBe(true);
  });

  it("names an unknown provider as such", async () => {
    const error = (await workers[0]!.client
      .getProviderHealth({ provider_id: "nope" })
      .catch((e: unknown) => e)) as LlmProviderError;
    expect(error).toMatchObject({ code: "unknown_provider", field: "provider_id" });
  });
});

describe("get_provider_health: embeddings", () => {
  it("counts every upstream attempt of embedding requests, those of failed requests too", async () => {
    const client = workers[0]!.client;
    embedder.enqueue({ kind: "error", status: 500 });
    const failed = await client
      .generateEmbedding({ model: "embedder", input: ["a text the provider fails on"] })
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: "upstream_unavailable" });
    await client.generateEmbedding({ model: "embedder", input: ["a text the provider embeds"] });
    const health = (await eventually(
      () => client.getProviderHealth({ provider_id: "p3" }),
      (value) => (value as ProviderHealth).request_count === 2,
    )) as ProviderHealth;
    expect(health).toMatchObject({
      provider_id: "p3",
      request_count: 2,
      error_count: 1,
      last_error: "upstream_unavailable",
    });
    expect(Date.parse(health.last_success_timestamp!)).toBeGreaterThan(Date.now() - 10_000);
  });
});
