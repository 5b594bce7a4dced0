import { ProviderHealthChangedSchema } from "@llm-provider/contracts";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { waitForEvents } from "../support/events.js";
import { startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { until } from "../support/until.js";

let nats: NatsServerHandle;
let primary: FakeOpenAIServer;
let secondary: FakeOpenAIServer;
let workers: TestService[] = [];
/** Long enough that the checks of an open breaker finish within it on a loaded machine. */
const COOLDOWN_MS = 2_500;
/** When the test saw the breaker open on every worker: it opened before. */
let openSeenAt = 0;

beforeAll(async () => {
  nats = await startNatsServer();
  primary = await startFakeOpenAIServer();
  secondary = await startFakeOpenAIServer();
  const config = testConfig(nats.url, [primary.baseUrl, secondary.baseUrl], {
    fallback_chains: [{ id: "chain", models: ["model-0", "model-1"] }],
    circuit_breaker: { failure_threshold: 3, cooldown_ms: COOLDOWN_MS },
  });
  // A second model on the primary's provider: its breaker is its own.
  config.models.push({ ...config.models[0]!, model_name: "model-0b", upstream_model: "upstream-model-0b" });
  for (const provider of config.providers) provider.config = { ...provider.config, max_retries: 0 };
  // Two workers in one queue group: what one learns about a provider, the other must respect.
  workers = [await startTestService(config), await startTestService(config)];
});

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await Promise.all([primary?.close(), secondary?.close()]);
  await nats?.stop();
});

const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello" }] };
const client = () => workers[0]!.client;

describe("a provider that is down", () => {
  it("a value in the breakers bucket that is no breaker state is ignored, and the workers keep serving", async () => {
    const kv = await new Kvm(workers[0]!.nc).open("llm_provider_breakers");
    await kv.put("not_a_provider", "yes");
    await kv.put("p9", JSON.stringify({ state: "sideways", by: "someone" }));
    await until("both logged the entry", () =>
      workers.every((worker) => worker.logs.join("").includes("not a breaker state")),
    );
    for (const worker of workers)
      expect(worker.logs.join("")).toContain("ignored a circuit breaker entry that is not a breaker state");
    expect((await client().completeChat(hello)).provider_id).toBe("p0");
    await kv.purge("not_a_provider");
    await kv.purge("p9");
  });

  it("opens the breaker, which every worker then respects: traffic goes straight to the fallback", async () => {
    for (let index = 0; index < 40; index++) primary.enqueue({ kind: "error", status: 503 });
    // Each worker counts its own failures; at most 2 × 3 calls reach the primary before one opens.
    for (let index = 0; index < 8; index++) {
      const completion = await client().completeChat(hello);
      expect(completion.provider_id).toBe("p1");
    }
    await until("open on both", () => workers.every((worker) => !worker.app.isModelAvailable("model-0")));
    expect(workers.map((worker) => worker.app.isModelAvailable("model-0"))).toEqual([false, false]);
    openSeenAt = Date.now();

    const calledBefore = primary.requests.length;
    expect(calledBefore).toBeLessThanOrEqual(6);
    for (let index = 0; index < 10; index++) {
      const completion = await client().completeChat(hello);
      expect(completion.provider_id).toBe("p1");
      expect(completion.attempts.map((a) => `${a.provider_id}:${a.outcome}`)).toEqual([
        "p0:skipped",
        "p1:success",
      ]);
    }
    expect(primary.requests.length).toBe(calledBefore); // not one more call to the primary

    const listed = await client().listModels({ provider_id: "p0" });
    expect(listed.data.map((model) => [model.id, model.is_available])).toEqual([
      ["model-0", false],
      ["model-0b", true], // breakers are per model: the provider's other model is still served
    ]);
    expect(workers.every((worker) => worker.app.isProviderAvailable("p0"))).toBe(true);
  });

  it("after the cool-down sends exactly one probe, and closes again when it succeeds", async () => {
    primary.reset(); // the provider is back
    await new Promise((resolve) => setTimeout(resolve, openSeenAt + COOLDOWN_MS + 100 - Date.now()));
    primary.enqueue({ kind: "delay", ms: 300 }); // the probe takes a while: others must not pile on
    const burst = await Promise.all(Array.from({ length: 6 }, () => client().completeChat(hello)));
    expect(primary.requests).toHaveLength(1);
    expect(burst.filter((completion) => completion.provider_id === "p0")).toHaveLength(1);
    await until("closed on both", () => workers.every((worker) => worker.app.isModelAvailable("model-0")));
    const after = await Promise.all(Array.from({ length: 6 }, () => client().completeChat(hello)));
    expect(after.every((completion) => completion.provider_id === "p0")).toBe(true);

    // Opening and closing were each announced once, by the worker that decided it.
    const changes = await waitForEvents(
      workers[0]!.nc,
      (events) =>
        events.filter((e) => e.event.type === "llm-provider.provider_health_changed.v1").length >= 2,
    );
    const transitions = changes
      .filter((e) => e.event.type === "llm-provider.provider_health_changed.v1")
      .map((e) => ProviderHealthChangedSchema.parse(e.event).data)
      .map((data) => `${data.provider_id}/${data.upstream_model}:${data.to}:${data.is_available}`);
    expect(transitions).toEqual(["p0/upstream-model-0:open:false", "p0/upstream-model-0:closed:true"]);
  });
});

describe("a model that is down on a provider that is not", () => {
  it("opens that model's breaker only: the provider's other model is still called and answers", async () => {
    primary.reset();
    primary.setModelBehavior("upstream-model-0", { kind: "error", status: 503 });
    const modelAvailable = async (name: string) =>
      (await client().listModels({ provider_id: "p0" })).data.find((model) => model.id === name)!
        .is_available;
    for (let index = 0; index < 8; index++)
      expect((await client().completeChat(hello)).provider_id).toBe("p1");
    await until("model-0's breaker open on both", () =>
      workers.every((worker) => worker.app.isProviderAvailable("p0")),
    );
    expect(await modelAvailable("model-0")).toBe(false);
    expect(await modelAvailable("model-0b")).toBe(true);
    // The same provider keeps serving its other model (a success there closes nothing of model-0).
    for (let index = 0; index < 4; index++) {
      const completion = await client().completeChat({ ...hello, model: "model-0b" });
      expect(completion.provider_id).toBe("p0");
    }
    const skipped = await client().completeChat(hello);
    expect(skipped.attempts.map((a) => `${a.provider_id}:${a.outcome}`)).toEqual([
      "p0:skipped",
      "p1:success",
    ]);
  });
});
