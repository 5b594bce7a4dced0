// Liveness and readiness over HTTP (issue #7): what an orchestrator sees while the worker is
// connected, while NATS is away, and while it drains on SIGTERM.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { startProbeServer } from "../../services/llm-provider/src/infra/http/probe-server.js";
import type { ProbeServer } from "../../services/llm-provider/src/infra/http/probe-server.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { builtServiceArgs } from "../support/built-service.js";
import { startTestService, TEST_API_KEY, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { eventually } from "../support/until.js";

const root = resolve(import.meta.dirname, "../..");
let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let workDir: string;

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer();
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-probes-"));
});

afterAll(async () => {
  await upstream?.close();
  await nats?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function probe(port: number, path: string, method = "GET") {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe("health probes of a running worker", () => {
  let service: TestService;
  let probes: ProbeServer;

  beforeAll(async () => {
    service = await startTestService(testConfig(nats.url, [upstream.baseUrl]));
    probes = await startProbeServer({
      host: "127.0.0.1",
      port: 0,
      liveness: () => service.app.liveness(),
      readiness: () => service.app.readiness(),
      logger: pino({ level: "silent" }),
    });
  });

  afterAll(async () => {
    await probes?.close();
    await service?.stop();
  });

  it("is live and ready while connected; serves nothing else", async () => {
    expect(await probe(probes.port, "/livez")).toEqual({ status: 200, body: { status: "live" } });
    expect(await probe(probes.port, "/readyz")).toEqual({ status: 200, body: { status: "ready" } });
    expect((await probe(probes.port, "/readyz", "HEAD")).status).toBe(200);
    expect((await probe(probes.port, "/metrics")).status).toBe(404);
    expect((await probe(probes.port, "/readyz", "POST")).status).toBe(405);
  });

  it("is not ready while NATS is away (but stays live: the client reconnects), and ready again after", async () => {
    const restart = nats.restart(); // stop, then start on the same port
    const during = await eventually(
      () => probe(probes.port, "/readyz"),
      (answer) => answer.status === 503,
    );
    expect(during).toEqual({ status: 503, body: { status: "not_ready", reason: "nats_reconnecting" } });
    expect((await probe(probes.port, "/livez")).status).toBe(200);
    await restart;
    const after = await eventually(
      () => probe(probes.port, "/readyz"),
      (answer) => answer.status === 200,
    );
    expect(after).toEqual({ status: 200, body: { status: "ready" } });
    // The watcher behind the probes is the one that logs: one warning per outage, however many
    // times the client dialled meanwhile, and one line when it is back.
    const lines = (message: string) => service.logs.filter((line) => line.includes(`"msg":"${message}"`));
    expect(lines("NATS connection lost")).toHaveLength(1);
    expect(lines("NATS connection restored")).toHaveLength(1);
    // And it serves again (the caller's own connection may still be on its way back).
    const hello = { model: "model-0", messages: [{ role: "user" as const, content: "back?" }] };
    const served = await eventually(
      () =>
        service.client.completeChat(hello, { timeoutMs: 1_000 }).then(
          (completion) => completion.provider_id,
          () => undefined,
        ),
      (providerId) => providerId !== undefined,
    );
    expect(served).toBe("p0");
  });
});

describe("health probes of the service process", () => {
  it("reports draining from SIGTERM on while the last request is answered, then the process exits 0", async () => {
    const configPath = join(workDir, "probes.yaml");
    await writeFile(
      configPath,
      toYaml(
        testConfig(nats.url, [upstream.baseUrl], {
          probes: { enabled: true, host: "127.0.0.1", port: 0 },
          service: { shutdown_grace_ms: 5_000 },
        }),
      ),
    );
    const child = spawn(process.execPath, builtServiceArgs("main", ["--config", configPath]), {
      cwd: root,
      env: { ...process.env, TEST_OPENAI_KEY: TEST_API_KEY },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
    try {
      const deadline = Date.now() + 15_000;
      let port: number | undefined;
      while (port === undefined && Date.now() < deadline) {
        const line = output.split("\n").find((text) => text.includes("health probes listening"));
        if (line) port = (JSON.parse(line) as { port: number }).port;
        else await sleep(50);
      }
      expect(port, output).toBeDefined();
      expect((await probe(port!, "/readyz")).status).toBe(200);

      // One request in flight for a while, then SIGTERM.
      upstream.enqueue({ kind: "delay", ms: 1_500 });
      const seenBefore = upstream.requests.length; // earlier tests' requests are still listed
      const nc = await connect({ servers: nats.url });
      const reply = nc.request(
        "llm-provider.cmd.complete_chat",
        JSON.stringify({ model: "model-0", messages: [{ role: "user", content: "slow" }] }),
        { timeout: 10_000 },
      );
      await eventually(
        () => Promise.resolve(upstream.requests.length),
        (count) => count > seenBefore,
      );
      child.kill("SIGTERM");
      const draining = await eventually(
        () => probe(port!, "/readyz"),
        (answer) => answer.status === 503,
        3_000,
      );
      expect(draining).toEqual({ status: 503, body: { status: "not_ready", reason: "draining" } });
      expect((await probe(port!, "/livez")).status).toBe(200);
      const answered = await reply;
      expect(answered.headers?.get("Nats-Service-Error-Code")).toBeFalsy();
      expect(await exited).toBe(0);
      await nc.close();
      // The probes closed with the process.
      await expect(probe(port!, "/livez")).rejects.toThrow();
    } finally {
      clearTimeout(kill);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
