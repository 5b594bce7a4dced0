// complete_chat at most once per caller Request-Id, through the real service over NATS: a duplicate
// after the first answer gets it replayed (no provider call, no second event), one that arrives
// while the first runs waits for the same answer, a final failure is answered again while a
// retryable one is served afresh, another body under the same id is refused, and a claim whose
// worker was SIGKILLed mid-request is taken over once its lease runs out.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLlmProviderClient, SUBJECTS } from "@llm-provider/contracts";
import type { ChatCompletion, CompleteChatInput } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import { waitForEvents } from "../support/events.js";
import { sigkillWorkerMidRequest } from "../support/main-process.js";
import { refusalOf } from "../support/refusal.js";
import { startTestService, testConfig, TEST_API_KEY, type TestService } from "../support/service.js";
import { until } from "../support/until.js";

const LEASE_MS = 1_000;

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;
let workDir: string;

const config = () =>
  testConfig(nats.url, [upstream.baseUrl], {
    idempotency: { lease_ms: LEASE_MS },
    // One attempt per request: every upstream call the tests count is one the service chose to make.
    providers: [
      {
        id: "p0",
        name: "Provider 0",
        provider_type: "openai",
        endpoint: upstream.baseUrl,
        api_key_ref: "env:TEST_OPENAI_KEY",
        config: { timeout_ms: 10_000, max_retries: 0 },
      },
    ],
  });

beforeAll(async () => {
  [nats, upstream] = await Promise.all([startNatsServer(), startFakeOpenAIServer({ apiKey: TEST_API_KEY })]);
  service = await startTestService(config());
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-idempotency-"));
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

beforeEach(() => upstream.reset());

const ask = (text: string): CompleteChatInput => ({
  model: "model-0",
  messages: [{ role: "user", content: text }],
});
const chatCalls = () => upstream.requests.filter((request) => request.path === "/v1/chat/completions").length;

describe("a duplicate after the first answer", () => {
  it("gets the same completion, marked replayed, with no provider call and no second event", async () => {
    const first = await service.client.completeChat(ask("Hello once"), { requestId: "after-1" });
    expect(first.replayed).toBeUndefined();
    const second = await service.client.completeChat(ask("Hello once"), { requestId: "after-1" });
    expect(second).toEqual({ ...first, replayed: true });
    expect(chatCalls()).toBe(1);
    const events = await waitForEvents(service.nc, (stored) =>
      stored.some((e) => e.event.request_id === "after-1"),
    );
    const completed = events.filter(
      (stored) => stored.event.type === SUBJECTS.chatCompletedEvent && stored.event.request_id === "after-1",
    );
    expect(completed).toHaveLength(1);
    expect(completed[0]!.event.data).toMatchObject({ completion_id: first.id });
  });

  it("does not apply without a Request-Id: each request is served", async () => {
    await service.client.completeChat(ask("Hello twice"));
    await service.client.completeChat(ask("Hello twice"));
    expect(chatCalls()).toBe(2);
  });

  it("refuses the same id with another body, naming Request-Id", async () => {
    await service.client.completeChat(ask("The first body"), { requestId: "reuse-1" });
    const error = await refusalOf(service.client.completeChat(ask("Another body"), { requestId: "reuse-1" }));
    expect(error).toMatchObject({ code: "invalid_request", field: "Request-Id", retryable: false });
    expect(chatCalls()).toBe(1);
  });
});

describe("a duplicate while the first is served", () => {
  it("waits for the same answer instead of calling the provider again", async () => {
    upstream.enqueue({ kind: "delay", ms: 800 });
    const first = service.client.completeChat(ask("Slow one"), { requestId: "during-1" });
    await until("the first request upstream", () => chatCalls() === 1);
    const second = await service.client.completeChat(ask("Slow one"), { requestId: "during-1" });
    const answered: ChatCompletion = await first;
    expect(second).toEqual({ ...answered, replayed: true });
    expect(chatCalls()).toBe(1);
  });
});

describe("failures", () => {
  it("a final failure is answered again without a call; a retryable one is served afresh", async () => {
    upstream.enqueue({ kind: "error", status: 400, message: "bad request" });
    const final = await refusalOf(service.client.completeChat(ask("Doomed"), { requestId: "final-1" }));
    expect(final).toMatchObject({ code: "upstream_bad_request", retryable: false });
    const again = await refusalOf(service.client.completeChat(ask("Doomed"), { requestId: "final-1" }));
    expect(again.toBody()).toEqual(final.toBody());
    expect(chatCalls()).toBe(1);

    upstream.enqueue({ kind: "error", status: 503 });
    const retryable = await refusalOf(service.client.completeChat(ask("Flaky"), { requestId: "retry-1" }));
    expect(retryable.retryable).toBe(true);
    const served = await service.client.completeChat(ask("Flaky"), { requestId: "retry-1" });
    expect(served).toMatchObject({ content: "echo: Flaky" });
    expect(served.replayed).toBeUndefined();
    expect(chatCalls()).toBe(3);
  });
});

describe("a worker SIGKILLed while it serves the request", () => {
  it("leaves a claim that a duplicate takes over once its lease runs out, then replays", async () => {
    upstream.enqueue({ kind: "hang" });
    const lost = await sigkillWorkerMidRequest({
      natsUrl: nats.url,
      configPath: join(workDir, "worker.yaml"),
      config: config(),
      env: { TEST_OPENAI_KEY: TEST_API_KEY },
      stepAside: () => service.stop(),
      send: (nc) =>
        createLlmProviderClient(nc).completeChat(ask("Crash course"), {
          requestId: "crash-1",
          timeoutMs: 3_000,
        }),
      reachedUpstream: () => chatCalls() === 1,
    });
    expect(lost).toMatchObject({ code: "request_timeout" });
    service = await startTestService(config());
    const retried = await service.client.completeChat(ask("Crash course"), { requestId: "crash-1" });
    expect(retried).toMatchObject({ content: "echo: Crash course" });
    expect(retried.replayed).toBeUndefined();
    expect(chatCalls()).toBe(2);
    const replayed = await service.client.completeChat(ask("Crash course"), { requestId: "crash-1" });
    expect(replayed).toEqual({ ...retried, replayed: true });
    expect(chatCalls()).toBe(2);
  });
});
