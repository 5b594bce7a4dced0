// The live configuration's admin subjects (llm-provider.admin.…) served by a worker: the same
// validation, diff and compare-and-set as the CLI; and the revision in force on events and spans.
// Who may send to them is test/security/permissions.test.ts's (the shipped accounts).
import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { createConfigAdminClient, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { ConfigAdminClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { liveSectionsOf } from "../../services/llm-provider/src/config/live-sections.js";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { ensureKvBucket } from "../../services/llm-provider/src/infra/kv/ensure-kv-bucket.js";
import { createKvLiveConfigStore } from "../../services/llm-provider/src/infra/kv/kv-live-config.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { waitForEvents } from "../support/events.js";
import { embedderModel, startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { until } from "../support/until.js";

// Installed before the service starts (each test file runs in its own process).
const spans = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));

const BUCKET = "llm_provider_config";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;
let admin: ConfigAdminClient;
let base: ConfigInput;

/** The admin request's typed error, or a failure when it succeeded. */
async function refusal(request: Promise<unknown>): Promise<LlmProviderError> {
  const error = await request.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(LlmProviderError);
  return error as LlmProviderError;
}

async function followed(revision: number): Promise<void> {
  await until(`worker on revision ${revision}`, () => service.app.configRevision() === revision);
}

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer();
  base = testConfig(nats.url, [upstream.baseUrl], { live_config: { enabled: true, poll_interval_ms: 50 } });
  base.models.push(embedderModel({ cost: { input_per_million: 1, output_per_million: 0 } }));
  service = await startTestService(base);
  admin = createConfigAdminClient(service.nc, { timeoutMs: 5_000 });
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

describe("admin subjects", () => {
  let revision = 0;

  it("does not create the bucket: the first apply is the CLI's (admin rights)", async () => {
    const error = await refusal(admin.applyConfig({ config: toYaml(base) }));
    expect({ code: error.code, field: error.field }).toEqual({ code: "not_found", field: "bucket" });
    await ensureKvBucket(service.nc, { bucket: BUCKET, replicas: 1 });
  });

  it("diffs a YAML document against what is stored, writing nothing", async () => {
    const reply = await admin.diffConfig({ config: toYaml(base) });
    expect(reply.revision).toBeUndefined();
    expect(reply.previous_revision).toBeUndefined();
    expect(reply.changes).toEqual([
      { change: "added", section: "providers", id: "p0" },
      { change: "added", section: "models", id: "model-0" },
      { change: "added", section: "models", id: "embedder" },
    ]);
    expect(reply.summary).toBe("+ providers p0\n+ models model-0\n+ models embedder\n");
    expect(await createKvLiveConfigStore(service.nc, { bucket: BUCKET, timeoutMs: 2_000 }).read()).toBe(
      undefined,
    );
  });

  it("applies a document by compare-and-set; the worker takes it and list_models shows its revision", async () => {
    const next = structuredClone(base);
    next.models[0]!.cost = { input_per_million: 3, output_per_million: 10 };
    const reply = await admin.applyConfig({ config: next, expected_revision: 0 });
    revision = reply.revision!;
    expect(revision).toBeGreaterThan(0);
    await followed(revision);
    const list = await service.client.listModels();
    expect(list.config_revision).toBe(revision);
    expect(list.data[0]?.cost_metrics.input_per_million).toBe(3);

    // The same document again: no field changes, a new revision all the same (as the CLI's apply).
    const again = await admin.diffConfig({ config: toYaml(next) });
    expect(again).toEqual({ changes: [], summary: "no changes\n", previous_revision: revision });
  });

  it("refuses a stale revision, an invalid configuration and a malformed request, writing nothing", async () => {
    const stale = await refusal(admin.applyConfig({ config: toYaml(base), expected_revision: revision - 1 }));
    expect(stale.code).toBe("revision_conflict");

    const broken = structuredClone(base);
    broken.models[0]!.max_tokens = 0;
    const invalid = await refusal(admin.applyConfig({ config: toYaml(broken) }));
    expect({ code: invalid.code, field: invalid.field, policy: invalid.policy }).toEqual({
      code: "invalid_request",
      field: "config.models[0].max_tokens",
      policy: "POL-LLM-002",
    });
    expect(invalid.details?.["problems"]).toEqual([
      expect.objectContaining({ field: "models[0].max_tokens", policy: "POL-LLM-002" }),
    ]);

    const notYaml = await refusal(admin.applyConfig({ config: "models: [unclosed" }));
    expect({ code: notYaml.code, field: notYaml.field }).toEqual({
      code: "invalid_request",
      field: "config",
    });

    // Past the typed client's own check: the worker checks the body too.
    const raw = await service.nc.request(
      SUBJECTS.adminApplyConfig,
      JSON.stringify({ config: toYaml(base), bucket: "elsewhere" }),
      { timeout: 5_000 },
    );
    expect(raw.headers?.get("Nats-Service-Error-Code")).toBe("400");
    expect(raw.json<{ error: { code: string } }>().error.code).toBe("invalid_request");

    expect(service.app.configRevision()).toBe(revision);
    expect((await service.client.listModels()).data[0]?.cost_metrics.input_per_million).toBe(3);
  });

  it("sets a model unavailable and a provider inactive as the CLI does", async () => {
    const model = await admin.setModelAvailable({ model: "model-0", available: false });
    expect(model.revision).toBe(revision + 1);
    expect(model.summary).toBe("~ models model-0\n    is_available: true → false\n");
    revision = model.revision!;
    await followed(revision);
    expect(service.app.isModelAvailable("model-0")).toBe(false);

    const back = await admin.setModelAvailable({ model: "model-0", available: true });
    revision = back.revision!;
    await followed(revision);
    expect(service.app.isModelAvailable("model-0")).toBe(true);

    const unknown = await refusal(admin.setProviderActive({ provider_id: "nowhere", active: false }));
    expect({ code: unknown.code, field: unknown.field }).toEqual({
      code: "unknown_provider",
      field: "provider_id",
    });
    const unchanged = await admin.setProviderActive({ provider_id: "p0", active: true });
    expect(unchanged.revision).toBeUndefined();
    expect(unchanged.summary).toBe("no changes\n");
  });

  it("puts the revision in force on events and on the request's span", async () => {
    spans.reset();
    const answer = await service.client.completeChat(
      { model: "model-0", messages: [{ role: "user", content: "Hello" }] },
      { requestId: "revision-check" },
    );
    expect(answer.content).toBeTruthy();
    const events = await waitForEvents(service.nc, (stored) =>
      stored.some((event) => event.event.request_id === "revision-check"),
    );
    const event = events.find((stored) => stored.event.request_id === "revision-check")!;
    expect(event.event["config_revision"]).toBe(revision);

    const server = spans.getFinishedSpans().find((span) => span.name === `process ${SUBJECTS.completeChat}`);
    expect(server?.attributes["llm_provider.config_revision"]).toBe(revision);
    const adminSpan = await (async () => {
      await admin.diffConfig({ config: toYaml(base) });
      return spans.getFinishedSpans().find((span) => span.name === `process ${SUBJECTS.adminDiffConfig}`);
    })();
    expect(adminSpan?.attributes["llm_provider.caller"]).toBe("config-admin");
  });
});

describe("durable jobs and the live configuration", () => {
  /** The price per million input tokens a finished embedding job was charged at. */
  async function jobPrice(prefix: string): Promise<{ price: number; failed: number; codes: string[] }> {
    const job = await service.client.submitEmbeddingJob({
      model: "embedder",
      items: [`${prefix} one`, `${prefix} two`],
    });
    const codes: string[] = [];
    for await (const result of job) if (!result.ok) codes.push(result.error.code);
    const status = await job.status();
    const tokens = status.usage.prompt_tokens;
    return {
      price: tokens === 0 ? 0 : Math.round((status.usage.cost.input / tokens) * 1e6 * 1e6) / 1e6,
      failed: status.failed,
      codes,
    };
  }

  it("prices each batch with the catalogue in force, and fails it when its model is taken out of service", async () => {
    expect((await jobPrice("before")).price).toBe(1);
    const next = structuredClone(base);
    next.models[1]!.cost = { input_per_million: 4, output_per_million: 0 };
    const reply = await admin.applyConfig({ config: toYaml(next) });
    await followed(reply.revision!);
    expect((await jobPrice("after")).price).toBe(4);

    const off = await admin.setModelAvailable({ model: "embedder", available: false });
    await followed(off.revision!);
    const refused = await jobPrice("unavailable");
    expect(refused.failed).toBe(2);
    expect(refused.codes).toEqual(["upstream_unavailable", "upstream_unavailable"]);
    const on = await admin.setModelAvailable({ model: "embedder", available: true });
    await followed(on.revision!);
  });
});

describe("config diff and the model catalogue", () => {
  it("shows a price the catalogue changed since the stored revision, marked as the catalogue's", async () => {
    const catalogued = testConfig(nats.url, [upstream.baseUrl], { live_config: { enabled: true } });
    // Priced by the catalogue alone: the entry leaves its cost out and names a models.dev model.
    catalogued.models[0] = {
      ...catalogued.models[0]!,
      catalog: "openai/gpt-4o-mini",
      cost: { output_per_million: 10 },
    };
    const resolved = liveSectionsOf(parseConfig(catalogued, "test"));
    const current = resolved.models[0]!.cost.input_per_million;
    expect(current).toBeGreaterThan(0);
    // What an apply under an older catalogue version stored: the same file, resolved to another price.
    const stored = structuredClone(resolved);
    stored.models[0]!.cost.input_per_million = current + 1;
    const store = createKvLiveConfigStore(service.nc, { bucket: BUCKET, timeoutMs: 2_000 });
    const previous = (await store.read())!.revision;
    await store.write(stored, previous);

    const reply = await admin.diffConfig({ config: toYaml(catalogued) });
    const model = reply.changes.find((change) => change.section === "models");
    expect(model?.fields).toEqual([
      { path: "cost.input_per_million", before: current + 1, after: current, source: "catalogue" },
    ]);
    expect(reply.summary).toContain(
      `~ models model-0\n    cost.input_per_million: ${current + 1} → ${current} (catalogue)\n`,
    );

    // A value the file itself sets is not the catalogue's.
    const own = structuredClone(catalogued);
    own.models[0]!.cost = { input_per_million: current + 2, output_per_million: 10 };
    const ownReply = await admin.diffConfig({ config: toYaml(own) });
    expect(ownReply.changes.find((change) => change.section === "models")?.fields).toEqual([
      { path: "cost.input_per_million", before: current + 1, after: current + 2 },
    ]);
  });
});
