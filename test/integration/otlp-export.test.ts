import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MockOtlpServer, normalizeTrace } from "@elastic/mockotlpserver";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { testConfig, TEST_API_KEY } from "../support/service.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

interface ExportedSpan {
  name: string;
  kind: string;
  attributes: Record<string, unknown>;
}

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let receiver: MockOtlpServer;
let workDir: string;
const received: ExportedSpan[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  receiver = new MockOtlpServer({
    logLevel: "warn",
    services: ["http"],
    httpHostname: "127.0.0.1",
    httpPort: 0,
    onTrace: (request: unknown) => {
      const trace = normalizeTrace(request) as {
        resourceSpans: Array<{ scopeSpans: Array<{ spans: ExportedSpan[] }> }>;
      };
      for (const resource of trace.resourceSpans)
        for (const scope of resource.scopeSpans) received.push(...scope.spans);
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

describe("OTLP/HTTP export from the service process", () => {
  it("exports the request's spans to a real OTLP receiver, configured only by OTEL_* variables", async () => {
    const configPath = join(workDir, "config.yaml");
    await writeFile(configPath, toYaml(testConfig(nats.url, [upstream.baseUrl])));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=source", "services/llm-provider/src/main.ts", "--config", configPath],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          TEST_OPENAI_KEY: TEST_API_KEY,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.httpUrl!.origin,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_METRICS_EXPORTER: "none",
          OTEL_SERVICE_NAME: "llm-provider-test",
        },
      },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const nc = await connect({ servers: nats.url });
    try {
      for (let attempt = 0; attempt < 100; attempt++) {
        if (await nc.request("$SRV.PING.llm-provider", "", { timeout: 200 }).catch(() => undefined)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const completion = await createLlmProviderClient(nc).completeChat({
        model: "model-0",
        messages: [{ role: "user", content: "Hello" }],
      });
      expect(completion.content).toBe("echo: Hello");
      child.kill("SIGTERM"); // shutdown flushes the batch span processor
      expect(await exited, stderr).toBe(0);
      const names = received.map((span) => span.name);
      expect(names).toContain("chat upstream-model-0");
      expect(names).toContain("process llm-provider.cmd.complete_chat");
      const client = received.find((span) => span.name === "chat upstream-model-0")!;
      expect(client.attributes["gen_ai.operation.name"]).toBe("chat");
      expect(client.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
    } finally {
      child.kill("SIGKILL");
      await nc.close();
    }
  });
});
