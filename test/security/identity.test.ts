// The caller's identity, as the NATS server established it, in everything the service produces:
// the Policy Gateway request (chat and embeddings), events, spans, metrics, logs, and its limits.
import { metrics, trace } from "@opentelemetry/api";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient, SUBJECTS } from "@llm-provider/contracts";
import type { LlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { waitForEvents } from "../support/events.js";
import { TEST_API_KEY } from "../support/service.js";
import { collectStream } from "../support/streams.js";
import { until } from "../support/until.js";
import {
  accountsServiceConfig,
  connectAs,
  startAccountsServer,
  startPolicyGateway,
  startWorker,
} from "./accounts.js";
import type { RunningWorker } from "./accounts.js";

// Installed before the service starts (each test file runs in a process of its own).
const spans = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const metricReader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [metricReader] }));

/** The rpm of context `ingest` here: low enough to reach in a test. */
const INGEST_RPM = 3;

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let worker: RunningWorker;
let gateway: Awaited<ReturnType<typeof startPolicyGateway>>;
const connections: NatsConnection[] = [];
let clients: Record<"query" | "memory" | "ingest", LlmProviderClient>;
let admin: NatsConnection;

beforeAll(async () => {
  nats = await startAccountsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  gateway = await startPolicyGateway(nats);
  worker = await startWorker(
    nats,
    accountsServiceConfig(nats.url, upstream.baseUrl, {
      callers: { contexts: { query: {}, memory: {}, ingest: { rpm: INGEST_RPM } } },
      embedding_cache: { scope: "caller" },
    }),
  );
  const client = async (role: "query" | "memory" | "ingest") => {
    const { nc } = await connectAs(nats, role);
    connections.push(nc);
    return createLlmProviderClient(nc);
  };
  clients = { query: await client("query"), memory: await client("memory"), ingest: await client("ingest") };
  admin = (await connectAs(nats, "bootstrap")).nc;
});

afterAll(async () => {
  for (const nc of [...connections, admin]) await nc?.close();
  await worker?.app.stop(1_000);
  await gateway?.close();
  await upstream?.close();
  await nats?.stop();
});

const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello" }] };

describe("the caller's identity", () => {
  it("goes to the Policy Gateway for chat, streams and embeddings", async () => {
    await clients.query.completeChat(hello, { requestId: "id-chat" });
    await collectStream(clients.memory.streamChat(hello, { requestId: "id-stream" }));
    await clients.ingest.generateEmbedding({ model: "embedder", input: ["text"] }, { requestId: "id-embed" });
    const callerOf = (requestId: string) => gateway.asked.find((asked) => asked.request_id === requestId);
    expect(callerOf("id-chat")).toMatchObject({ caller: "query", operation: "chat" });
    expect(callerOf("id-stream")).toMatchObject({ caller: "memory", operation: "chat" });
    expect(callerOf("id-embed")).toMatchObject({ caller: "ingest", operation: "embedding" });
  });

  it("is in every event", async () => {
    const events = await waitForEvents(admin, (all) =>
      ["id-chat", "id-stream", "id-embed"].every((id) =>
        all.some((stored) => stored.event.request_id === id),
      ),
    );
    const callerOf = (requestId: string) =>
      events.find((stored) => stored.event.request_id === requestId)!.event;
    expect(callerOf("id-chat")).toMatchObject({ type: SUBJECTS.chatCompletedEvent, caller: "query" });
    expect(callerOf("id-stream")).toMatchObject({ type: SUBJECTS.chatCompletedEvent, caller: "memory" });
    expect(callerOf("id-embed")).toMatchObject({ type: SUBJECTS.embeddingGeneratedEvent, caller: "ingest" });
  });

  it("is on the request's span and on its metrics", async () => {
    await until("server spans ended", () =>
      ["id-chat", "id-embed"].every((id) =>
        spans.getFinishedSpans().some((span) => span.attributes["llm_provider.request_id"] === id),
      ),
    );
    const spanOf = (requestId: string) =>
      spans.getFinishedSpans().find((span) => span.attributes["llm_provider.request_id"] === requestId)!;
    expect(spanOf("id-chat").attributes["llm_provider.caller"]).toBe("query");
    expect(spanOf("id-embed").attributes["llm_provider.caller"]).toBe("ingest");
    await metricReader.forceFlush();
    const cost = metricExporter
      .getMetrics()
      .flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics))
      .filter((metric) => metric.descriptor.name === "llm_provider.cost")
      .at(-1)!;
    const callers = new Set(cost.dataPoints.map((point) => point.attributes["llm_provider.caller"]));
    expect(callers).toEqual(new Set(["query", "memory", "ingest"]));
  });

  it("is on the log lines of its requests", async () => {
    await clients.memory.completeChat({ ...hello, model: "no-such-model" }).catch(() => undefined);
    const line = worker.logs.find((text) => text.includes("no-such-model"));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ caller: "memory" });
  });

  it("keeps cached vectors apart when the cache is scoped by caller", async () => {
    const text = { model: "embedder", input: ["a text only memory has embedded"] };
    expect((await clients.memory.generateEmbedding(text)).data[0]!.cached).toBe(false);
    expect((await clients.memory.generateEmbedding(text)).data[0]!.cached).toBe(true);
    // Another caller learns nothing from the cache about what memory embedded.
    expect((await clients.query.generateEmbedding(text)).data[0]!.cached).toBe(false);
  });

  it("has limits of its own, counted apart from other callers", async () => {
    let refused: unknown;
    // Up to two windows' worth, in case the minute turns during the test.
    for (let sent = 0; sent <= 2 * INGEST_RPM + 1 && !refused; sent++) {
      refused = await clients.ingest.completeChat(hello).then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    expect(refused).toMatchObject({ code: "rate_limited", details: { caller: "ingest" } });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    // Another caller is not held back by it.
    expect((await clients.query.completeChat(hello)).content).toBe("echo: Hello");
  });
});
