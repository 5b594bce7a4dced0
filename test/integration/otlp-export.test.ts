import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MockOtlpServer, normalizeMetrics, normalizeTrace } from "@elastic/mockotlpserver";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { chooseLoopbackPort } from "../harness/loopback-port.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { runMain, waitUntilServing } from "../support/main-process.js";
import { testConfig, TEST_API_KEY } from "../support/service.js";
import { eventually } from "../support/until.js";
import { TOKEN_USAGE_BOUNDARIES } from "../../services/llm-provider/src/telemetry/instruments.js";

interface ExportedSpan {
  name: string;
  kind: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let receiver: MockOtlpServer;
let workDir: string;
const received: ExportedSpan[] = [];
const resources: Record<string, unknown>[] = [];
interface ExportedMetric {
  name: string;
  histogram?: {
    dataPoints: Array<{
      attributes: Record<string, unknown>;
      count: number | string;
      sum: number;
      explicitBounds?: number[];
    }>;
  };
  sum?: { dataPoints: Array<{ attributes: Record<string, unknown>; asDouble?: number }> };
}
const metricsReceived: ExportedMetric[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  receiver = new MockOtlpServer({
    logLevel: "warn",
    services: ["http"],
    httpHostname: "127.0.0.1",
    httpPort: 0,
    onMetrics: (request: unknown) => {
      const exported = normalizeMetrics(request) as {
        resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: ExportedMetric[] }> }>;
      };
      for (const resource of exported.resourceMetrics)
        for (const scope of resource.scopeMetrics) metricsReceived.push(...scope.metrics);
    },
    onTrace: (request: unknown) => {
      const trace = normalizeTrace(request) as {
        resourceSpans: Array<{
          resource: { attributes: Record<string, unknown> };
          scopeSpans: Array<{ spans: ExportedSpan[] }>;
        }>;
      };
      for (const resource of trace.resourceSpans) {
        resources.push(resource.resource.attributes);
        for (const scope of resource.scopeSpans) received.push(...scope.spans);
      }
    },
  });
  await receiver.start();
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-otlp-"));
});

afterAll(async () => {
  await receiver?.close();
  await upstream?.close();
  await nats?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** The service's entry point as a process with these variables, once it serves. */
async function startMain(env: NodeJS.ProcessEnv) {
  const configPath = join(workDir, "config.yaml");
  await writeFile(configPath, toYaml(testConfig(nats.url, [upstream.baseUrl])));
  const proc = runMain(configPath, { TEST_OPENAI_KEY: TEST_API_KEY, ...env });
  const nc = await connect({ servers: nats.url });
  try {
    await waitUntilServing(nc, proc);
  } catch (error) {
    proc.child.kill("SIGKILL");
    await nc.close();
    throw error;
  }
  return { proc, nc };
}

async function chatOnce(nc: NatsConnection): Promise<void> {
  const completion = await createLlmProviderClient(nc).completeChat({
    model: "model-0",
    messages: [{ role: "user", content: "Hello" }],
  });
  expect(completion.content).toBe("echo: Hello");
}

describe("OTLP/HTTP export from the service process", () => {
  // The SDK's OTLP exporters, chosen by the protocol variable; the receiver decodes both with the
  // OTLP protocol definitions.
  it.each(["http/protobuf", "http/json"])(
    "exports the request's spans over %s to a real OTLP receiver, configured only by OTEL_* variables",
    async (protocol) => {
      received.length = 0;
      resources.length = 0;
      metricsReceived.length = 0;
      const { proc, nc } = await startMain({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.httpUrl!.origin,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_SERVICE_NAME: "llm-provider-test",
        OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=otlp-test",
      });
      try {
        await chatOnce(nc);
        proc.child.kill("SIGTERM"); // shutdown flushes the batch span processor
        expect(await proc.exited, proc.output().stderr).toBe(0);
        const names = received.map((span) => span.name);
        expect(names).toContain("chat upstream-model-0");
        expect(names).toContain("process llm-provider.cmd.complete_chat");
        const client = received.find((span) => span.name === "chat upstream-model-0")!;
        const server = received.find((span) => span.name === "process llm-provider.cmd.complete_chat")!;
        expect(client.kind).toBe("SPAN_KIND_CLIENT");
        expect(server.kind).toBe("SPAN_KIND_SERVER");
        expect(client.traceId).toBe(server.traceId);
        expect(client.parentSpanId).toBe(server.spanId);
        expect(client.attributes).toMatchObject({
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "upstream-model-0",
          "gen_ai.response.finish_reasons": ["stop"],
          "server.address": "127.0.0.1",
        });
        expect(client.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
        expect(server.attributes).toMatchObject({
          "messaging.system": "nats",
          "messaging.destination.name": "llm-provider.cmd.complete_chat",
          "llm_provider.model": "model-0",
        });
        expect(server.attributes["llm_provider.cost_usd"]).toBeGreaterThan(0);
        expect(resources).toContainEqual(
          expect.objectContaining({
            "service.name": "llm-provider-test",
            "deployment.environment.name": "otlp-test",
          }),
        );

        // Metrics are exported at shutdown, by the reader the SDK made from the environment.
        const tokens = metricsReceived.find((metric) => metric.name === "gen_ai.client.token.usage");
        const input = tokens?.histogram?.dataPoints.find(
          (point) => point.attributes["gen_ai.token.type"] === "input",
        );
        expect(input?.attributes).toMatchObject({
          "gen_ai.operation.name": "chat",
          "gen_ai.request.model": "upstream-model-0",
        });
        expect(Number(input?.count)).toBe(1);
        expect(input?.sum).toBeGreaterThan(0);
        expect(input?.explicitBounds).toEqual(TOKEN_USAGE_BOUNDARIES);
        expect(metricsReceived.map((metric) => metric.name)).toEqual(
          expect.arrayContaining([
            "gen_ai.client.operation.duration",
            "llm_provider.cost",
            "llm_provider.requests.in_flight",
          ]),
        );
      } finally {
        proc.child.kill("SIGKILL");
        await nc.close();
      }
    },
  );
});

describe("Prometheus endpoint of the service process", () => {
  it("serves the metrics where OTEL_METRICS_EXPORTER=prometheus and OTEL_EXPORTER_PROMETHEUS_* say", async () => {
    const port = await chooseLoopbackPort();
    const { proc, nc } = await startMain({
      OTEL_METRICS_EXPORTER: "prometheus",
      OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      OTEL_TRACES_EXPORTER: "none",
      OTEL_LOGS_EXPORTER: "none",
    });
    try {
      await chatOnce(nc);
      const scrape = () =>
        fetch(`http://127.0.0.1:${port}/metrics`).then(
          (response) => response.text(),
          () => "",
        );
      const scraped = await eventually(scrape, (text) => text.includes("gen_ai_client_token_usage"));
      // The input-token series' buckets: cumulative counts at each advised boundary, then +Inf.
      const buckets = [
        ...scraped.matchAll(
          /^gen_ai_client_token_usage\w*_bucket\{[^}]*gen_ai_token_type="input"[^}]*le="([^"]+)"\} (\d+)$/gm,
        ),
      ];
      expect(buckets.map((bucket) => bucket[1])).toEqual([...TOKEN_USAGE_BOUNDARIES.map(String), "+Inf"]);
      expect(buckets.at(-1)![2]).toBe("1");
      expect(scraped).toContain("gen_ai_client_operation_duration");
      expect(scraped).toContain("llm_provider_cost");
      expect(scraped).toContain("llm_provider_requests_in_flight");
      // Without OTEL_SERVICE_NAME the resource names the service itself, beside what was detected.
      expect(scraped).toMatch(/^target_info\{[^}]*service_name="llm-provider"/m);
      expect(scraped).toMatch(/^target_info\{[^}]*process_pid="\d+"/m);
    } finally {
      proc.child.kill("SIGKILL");
      await nc.close();
    }
  });
});
