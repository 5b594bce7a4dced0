// generate_embedding at most once per caller Request-Id, through the real service over NATS: a
// duplicate after the first reply gets the same bytes with `"replayed":true` added (no provider
// call, no second event), one that arrives while the first runs waits for them, a claim whose
// worker was SIGKILLed is taken over after its lease, a reply above the inline limit is kept in
// the replies Object Store (up to 2,048 × 1,536 base64 vectors), and a durable job's batches
// leave no request ids behind. The embedding cache is off, so every vector is an upstream call.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { headers } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { HEADERS, SUBJECTS } from "@llm-provider/contracts";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import { embeddingConfig } from "../support/embeddings.js";
import { waitForEvents } from "../support/events.js";
import { sigkillWorkerMidRequest } from "../support/main-process.js";
import { refusalOf } from "../support/refusal.js";
import { startTestService, TEST_API_KEY, type TestService } from "../support/service.js";
import { until } from "../support/until.js";

const LEASE_MS = 1_000;
/** Small, so that a reply of a few vectors already goes to the Object Store. */
const INLINE_MAX_BYTES = 4_096;
/** 2,048 base64 vectors of 1,536 floats are 16.8 MB of reply. */
const MAX_PAYLOAD = 24 * 1024 * 1024;
const REQUESTS_BUCKET = "llm_provider_requests";
const REPLIES_BUCKET = "llm_provider_replies";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;
let workDir: string;

function config(): ConfigInput {
  const base = embeddingConfig(nats.url, upstream.baseUrl);
  const embed = base.models.find((model) => model.model_name === "embed")!;
  // text-embedding-3-large shortened to 1,536 dimensions on request.
  base.models.push({
    ...embed,
    model_name: "embed-large",
    upstream_model: "text-embedding-3-large",
    dimensions: 3_072,
    configurable_dimensions: true,
  });
  return {
    ...base,
    embedding_cache: { enabled: false },
    idempotency: { lease_ms: LEASE_MS, inline_max_bytes: INLINE_MAX_BYTES },
    // One attempt per request: every upstream call the tests count is one the service chose to make.
    providers: base.providers.map((provider) => ({
      ...provider,
      config: { timeout_ms: 30_000, max_retries: 0 },
    })),
  };
}

beforeAll(async () => {
  [nats, upstream] = await Promise.all([
    startNatsServer({ maxPayload: MAX_PAYLOAD }),
    startFakeOpenAIServer({ apiKey: TEST_API_KEY }),
  ]);
  service = await startTestService(config());
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-idempotent-embeddings-"));
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

beforeEach(() => upstream.reset());

const embeddingCalls = () => upstream.requests.filter((request) => request.path === "/v1/embeddings").length;

/** The reply's bytes exactly as the service sent them. */
async function embedRaw(
  nc: NatsConnection,
  body: object,
  requestId: string,
  timeout = 60_000,
): Promise<Uint8Array> {
  const hdrs = headers();
  hdrs.set(HEADERS.requestId, requestId);
  const reply = await nc.request(SUBJECTS.generateEmbedding, JSON.stringify(body), {
    headers: hdrs,
    timeout,
  });
  if (reply.headers?.get("Nats-Service-Error-Code")) throw new Error(new TextDecoder().decode(reply.data));
  return reply.data;
}

/** The original reply's bytes with the marker as its last member: every other byte unchanged. */
function markedReplayed(original: Uint8Array): string {
  const text = Buffer.from(original).toString("utf8");
  return `${text.slice(0, -1)},"replayed":true}`;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
const texts = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix} ${i}`);

/** The live objects of the replies bucket. */
async function objectCount(): Promise<number> {
  const store = await new Objm(service.nc).open(REPLIES_BUCKET);
  return (await store.list()).filter((object) => !object.deleted).length;
}

describe("a duplicate after the first reply", () => {
  it("gets the same bytes with replayed:true added, no provider call and no second event", async () => {
    const body = { model: "embed", input: ["alpha", "beta"] };
    const first = await embedRaw(service.nc, body, "emb-after-1");
    expect(JSON.parse(text(first))).not.toHaveProperty("replayed");
    const second = await embedRaw(service.nc, body, "emb-after-1");
    expect(text(second)).toBe(markedReplayed(first));
    expect(embeddingCalls()).toBe(1);

    const events = await waitForEvents(service.nc, (stored) =>
      stored.some((e) => e.event.request_id === "emb-after-1"),
    );
    const generated = events.filter(
      (stored) =>
        stored.event.type === SUBJECTS.embeddingGeneratedEvent && stored.event.request_id === "emb-after-1",
    );
    expect(generated).toHaveLength(1);
  });

  it("is read by the typed client as replayed: true", async () => {
    const body = { model: "embed", input: ["gamma"] };
    const first = await service.client.generateEmbedding(body, { requestId: "emb-typed-1" });
    expect(first.replayed).toBeUndefined();
    const again = await service.client.generateEmbedding(body, { requestId: "emb-typed-1" });
    expect(again).toEqual({ ...first, replayed: true });
    expect(embeddingCalls()).toBe(1);
  });

  it("refuses the same id with another body, naming Request-Id", async () => {
    await service.client.generateEmbedding({ model: "embed", input: "one" }, { requestId: "emb-reuse-1" });
    const error = await refusalOf(
      service.client.generateEmbedding({ model: "embed", input: "two" }, { requestId: "emb-reuse-1" }),
    );
    expect(error).toMatchObject({ code: "invalid_request", field: "Request-Id", retryable: false });
    expect(embeddingCalls()).toBe(1);
  });
});

describe("a duplicate while the first is served", () => {
  it("waits for the same reply instead of calling the provider again", async () => {
    upstream.enqueue({ kind: "delay", ms: 800 });
    const body = { model: "embed", input: ["slow one"] };
    const first = embedRaw(service.nc, body, "emb-during-1");
    await until("the first request upstream", () => embeddingCalls() === 1);
    const second = await embedRaw(service.nc, body, "emb-during-1");
    expect(text(second)).toBe(markedReplayed(await first));
    expect(embeddingCalls()).toBe(1);
  });
});

describe("a reply above the inline limit", () => {
  it("is kept in the replies Object Store and replayed from it byte for byte", async () => {
    const before = await objectCount();
    const body = { model: "embed", input: texts(64, "stored apart") };
    const first = await embedRaw(service.nc, body, "emb-large-1");
    expect(first.length).toBeGreaterThan(INLINE_MAX_BYTES * 2);
    expect(await objectCount()).toBe(before + 1);
    const second = await embedRaw(service.nc, body, "emb-large-1");
    expect(text(second)).toBe(markedReplayed(first));
    expect(embeddingCalls()).toBe(1);

    // The KV record itself stays small: it only names the object.
    const kv = await new Kvm(service.nc).open(REQUESTS_BUCKET);
    let largest = 0;
    for await (const key of await kv.keys()) largest = Math.max(largest, (await kv.get(key))?.length ?? 0);
    expect(largest).toBeLessThanOrEqual(INLINE_MAX_BYTES);
  });

  it("works for 2,048 base64 vectors of 1,536 dimensions (MBs of reply)", async () => {
    const body = {
      model: "embed-large",
      dimensions: 1_536,
      input: texts(2_048, "a document"),
      encoding_format: "base64",
    };
    const first = await embedRaw(service.nc, body, "emb-huge-1");
    expect(first.length).toBeGreaterThan(16_000_000);
    const second = await embedRaw(service.nc, body, "emb-huge-1");
    expect(second.length).toBe(first.length + ',"replayed":true'.length);
    expect(
      Buffer.compare(Buffer.from(second.subarray(0, first.length - 1)), Buffer.from(first.subarray(0, -1))),
    ).toBe(0);
    expect(text(second.subarray(first.length - 1))).toBe(',"replayed":true}');
    expect(embeddingCalls()).toBe(1);
  }, 120_000);
});

describe("durable job batches", () => {
  it("go through generate_embedding without claiming request ids (the results stream is their once-only)", async () => {
    const kv = await new Kvm(service.nc).open(REQUESTS_BUCKET);
    const keysBefore = new Set<string>();
    for await (const key of await kv.keys()) keysBefore.add(key);
    const job = await service.client.submitEmbeddingJob({ model: "embed", items: texts(5, "job item") });
    const finished = await job.finished();
    expect(finished).toMatchObject({ state: "completed", succeeded: 5, failed: 0 });
    const keysAfter: string[] = [];
    for await (const key of await kv.keys()) if (!keysBefore.has(key)) keysAfter.push(key);
    expect(keysAfter).toEqual([]);
  });
});

describe("a worker SIGKILLed while it serves the request", () => {
  it("leaves a claim that a duplicate takes over once its lease runs out, then replays", async () => {
    const body = { model: "embed", input: ["crash course"] };
    upstream.enqueue({ kind: "hang" });
    const lost = await sigkillWorkerMidRequest({
      natsUrl: nats.url,
      configPath: join(workDir, "worker.yaml"),
      config: config(),
      env: { TEST_OPENAI_KEY: TEST_API_KEY },
      stepAside: () => service.stop(),
      send: (nc) => embedRaw(nc, body, "emb-crash-1", 3_000),
      reachedUpstream: () => embeddingCalls() === 1,
    });
    expect(lost).toBeInstanceOf(Error);
    service = await startTestService(config());
    const retried = await embedRaw(service.nc, body, "emb-crash-1");
    expect(JSON.parse(text(retried))).toMatchObject({
      request_id: "emb-crash-1",
      data: [{ input_ref: expect.any(String) }],
    });
    expect(JSON.parse(text(retried))).not.toHaveProperty("replayed");
    expect(embeddingCalls()).toBe(2);
    const replayed = await embedRaw(service.nc, body, "emb-crash-1");
    expect(text(replayed)).toBe(markedReplayed(retried));
    expect(embeddingCalls()).toBe(2);
  });
});
