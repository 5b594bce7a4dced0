import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInbox, headers as natsHeaders } from "@nats-io/nats-core";
import type { Msg } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient, HEADERS, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { runMain, waitUntilServing } from "../support/main-process.js";
import { startTestService, testConfig, TEST_API_KEY } from "../support/service.js";
import { until } from "../support/until.js";

const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello" }] };

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let workDir: string;

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-lifecycle-"));
});

afterAll(async () => {
  await upstream?.close();
  await nats?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("bounded concurrency", () => {
  it("answers `busy` at once when the in-flight bound is reached, and recovers", async () => {
    const config = testConfig(nats.url, [upstream.baseUrl]);
    config.service = { max_in_flight: 2, queue_group: "busy-test" };
    const service = await startTestService(config);
    try {
      upstream.enqueue({ kind: "delay", ms: 400 }, { kind: "delay", ms: 400 });
      const seenBefore = upstream.requests.length;
      const slow = [service.client.completeChat(hello), service.client.completeChat(hello)];
      let slowAnswered = false;
      void Promise.allSettled(slow).then(() => (slowAnswered = true));
      await until("both slow requests upstream", () => upstream.requests.length === seenBefore + 2);
      const busy = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
      expect(slowAnswered).toBe(false); // answered at once, not once a slot was free
      expect(busy).toBeInstanceOf(LlmProviderError);
      expect(busy).toMatchObject({ code: "busy", retryable: true, retryAfterMs: 100 });
      const results = await Promise.all(slow);
      expect(results.map((r) => r.content)).toEqual(["echo: Hello", "echo: Hello"]);
      expect((await service.client.completeChat(hello)).content).toBe("echo: Hello");
    } finally {
      await service.stop();
    }
  });
});

describe("burst shedding", () => {
  it("answers a burst over the bound `busy` while the admitted requests are still in flight", async () => {
    const config = testConfig(nats.url, [upstream.baseUrl]);
    config.service = { max_in_flight: 4, queue_group: "burst-test" };
    const service = await startTestService(config);
    const { nc } = service;
    try {
      upstream.enqueue(...Array.from({ length: 4 }, () => ({ kind: "hang" as const })));
      const seenBefore = upstream.requests.length;
      const admitted = Array.from({ length: 4 }, () =>
        service.client.completeChat(hello).catch((e: unknown) => e),
      );
      let admittedSettled = 0;
      for (const request of admitted) void request.then(() => admittedSettled++);
      await until("the admitted requests upstream", () => upstream.requests.length === seenBefore + 4);

      // Sent at once, each with its own reply subject, so every reply is counted and matched.
      const burst = 300;
      const inbox = createInbox();
      const replies = new Map<number, Msg[]>();
      nc.subscribe(`${inbox}.*`, {
        callback: (_error, msg) => {
          const index = Number(msg.subject.slice(inbox.length + 1));
          replies.set(index, [...(replies.get(index) ?? []), msg]);
        },
      });
      await nc.flush();
      const body = JSON.stringify(hello);
      for (let index = 0; index < burst; index++) {
        const hdrs = natsHeaders();
        hdrs.set(HEADERS.requestId, `burst-${index}`);
        nc.publish(SUBJECTS.completeChat, body, { reply: `${inbox}.${index}`, headers: hdrs });
      }
      await until("every request of the burst answered", () => replies.size === burst);
      expect(admittedSettled).toBe(0); // answered while the admitted ones still hold their slots
      expect(upstream.requests.length).toBe(seenBefore + 4);

      // $SRV.STATS is answered on the connection the replies went out on: any second reply would be here by now.
      const stats = (await nc.request("$SRV.STATS.llm-provider", "", { timeout: 2_000 })).json<{
        endpoints: {
          subject: string;
          num_errors: number;
          data: { errors_by_code: Record<string, number> };
        }[];
      }>();
      const chat = stats.endpoints.find((e) => e.subject === SUBJECTS.completeChat)!;
      expect(chat.data.errors_by_code["busy"]).toBe(burst);
      expect(chat.num_errors).toBe(burst);
      for (let index = 0; index < burst; index++) {
        const answers = replies.get(index)!;
        expect(answers).toHaveLength(1);
        const [reply] = answers as [Msg];
        expect(reply.headers?.get("Nats-Service-Error-Code")).toBe("503");
        expect(reply.headers?.get("Nats-Service-Error")).toBe(
          "worker has 4 requests in flight; retry shortly",
        );
        expect(reply.headers?.get(HEADERS.requestId)).toBe(`burst-${index}`);
        expect(reply.json()).toEqual({
          error: {
            code: "busy",
            message: "worker has 4 requests in flight; retry shortly",
            retryable: true,
            retry_after_ms: 100,
          },
        });
      }

      // Not a log line each: one when the spell starts, a summary when it is summed up (here: at stop).
      const lines = () => service.logs.map((line) => JSON.parse(line) as { msg: string; busy?: number });
      expect(lines().filter((line) => line.msg.includes("requests in flight"))).toEqual([]);
      expect(lines().filter((line) => line.msg === "in-flight bound reached: answering busy")).toHaveLength(
        1,
      );
      await service.app.stop(0);
      const admittedAnswers = (await Promise.all(admitted)) as LlmProviderError[];
      expect(admittedAnswers.map((answer) => answer.code)).toEqual(Array(4).fill("shutting_down"));
      expect(lines().filter((line) => line.msg === "requests answered busy")).toEqual([
        expect.objectContaining({ busy: burst, by_caller: { anonymous: burst } }),
      ]);
    } finally {
      await service.stop();
    }
  });
});

describe("graceful shutdown in-process", () => {
  it("finishes in-flight requests, then stops taking new ones", async () => {
    const service = await startTestService(testConfig(nats.url, [upstream.baseUrl]));
    const caller = service.client;
    upstream.enqueue({ kind: "delay", ms: 300 });
    const seenBefore = upstream.requests.length;
    const inFlight = caller.completeChat(hello);
    await until("the request upstream", () => upstream.requests.length > seenBefore);
    const stopped = service.app.stop(5_000);
    expect((await inFlight).content).toBe("echo: Hello");
    await stopped;
    const after = (await caller
      .completeChat(hello, { timeoutMs: 1_000 })
      .catch((e: unknown) => e)) as LlmProviderError;
    expect(after.code).toBe("service_unavailable");
    await service.nc.close();
  });

  it("answers `shutting_down` for requests still running when the grace period ends", async () => {
    const service = await startTestService(testConfig(nats.url, [upstream.baseUrl]));
    upstream.enqueue({ kind: "hang" });
    const seenBefore = upstream.requests.length;
    const inFlight = service.client.completeChat(hello).catch((e: unknown) => e);
    await until("the request upstream", () => upstream.requests.length > seenBefore);
    await service.app.stop(200);
    expect(await inFlight).toMatchObject({ code: "shutting_down", retryable: true });
    await service.nc.close();
  });
});

describe("NATS loss", () => {
  it("reconnects after the server restarts and serves again", async () => {
    const service = await startTestService(testConfig(nats.url, [upstream.baseUrl]));
    try {
      expect((await service.client.completeChat(hello)).content).toBe("echo: Hello");
      await nats.restart();
      let answered: string | null = null;
      for (let attempt = 0; attempt < 50 && answered === null; attempt++) {
        answered = await service.client.completeChat(hello, { timeoutMs: 1_000 }).then(
          (completion) => completion.content,
          () => null,
        );
        if (answered === null) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(answered).toBe("echo: Hello");
    } finally {
      await service.stop();
    }
  });
});

describe("secrets", () => {
  it("never puts the API key in replies or logs, even when the provider rejects it", async () => {
    const wrongKey = "sk-wrong-key-ABCDEFGHIJKLMNOP1234";
    const service = await startTestService(testConfig(nats.url, [upstream.baseUrl]), {
      TEST_OPENAI_KEY: wrongKey,
    });
    try {
      const error = (await service.client.completeChat(hello).catch((e: unknown) => e)) as LlmProviderError;
      expect(error).toMatchObject({ code: "upstream_auth", retryable: false });
      const everything = JSON.stringify(error.toBody()) + error.message + service.logs.join("");
      expect(everything).not.toContain(wrongKey);
      expect(service.logs.join("")).toContain("upstream_auth");
    } finally {
      await service.stop();
    }
  });
});

async function writeConfig(name: string, config: unknown): Promise<string> {
  const path = join(workDir, name);
  await writeFile(path, toYaml(config));
  return path;
}

describe("the service process", () => {
  it("drains on SIGTERM: the in-flight request is answered, then it exits 0", async () => {
    const configPath = await writeConfig("sigterm.yaml", testConfig(nats.url, [upstream.baseUrl]));
    const proc = runMain(configPath, { TEST_OPENAI_KEY: TEST_API_KEY });
    const nc = await connect({ servers: nats.url });
    try {
      const client = createLlmProviderClient(nc);
      await waitUntilServing(nc, proc);
      upstream.enqueue({ kind: "delay", ms: 500 });
      const seenBefore = upstream.requests.length;
      const inFlight = client.completeChat(hello, { requestId: "drain-1" });
      await until("the request upstream", () => upstream.requests.length > seenBefore);
      proc.child.kill("SIGTERM");
      const completion = await inFlight;
      expect(completion).toMatchObject({ request_id: "drain-1", content: "echo: Hello" });
      expect(await proc.exited).toBe(0);
      const logs = proc.output().stdout;
      expect(logs).toContain('"msg":"stopping: draining requests"');
      expect(logs).not.toContain(TEST_API_KEY);
    } finally {
      proc.child.kill("SIGKILL");
      await nc.close();
    }
  });

  it("exits 2 with the usage on an unknown option", async () => {
    const proc = runMain("unused.yaml", {}, ["--frobnicate"]);
    expect(await proc.exited).toBe(2);
    expect(proc.output().stderr).toContain("usage: llm-provider --config");
  });

  it("refuses to start in production with the gateway bypassed (POL-LLM-005), exit code 78", async () => {
    const config = { ...testConfig(nats.url, [upstream.baseUrl]), environment: "production" };
    const proc = runMain(await writeConfig("bypass.yaml", config));
    expect(await proc.exited).toBe(78);
    expect(proc.output().stderr).toContain("[POL-LLM-005] policy_gateway.bypass");
  });

  it("refuses to start in production when an API key is missing, naming the reference only", async () => {
    const config = {
      ...testConfig(nats.url, [upstream.baseUrl]),
      environment: "production",
      policy_gateway: { bypass: false },
    };
    const proc = runMain(await writeConfig("nokey.yaml", config), { TEST_OPENAI_KEY: "" });
    expect(await proc.exited).toBe(78);
    expect(proc.output().stdout + proc.output().stderr).toContain(
      "env:TEST_OPENAI_KEY of provider 'p0' is not set",
    );
  });
});
