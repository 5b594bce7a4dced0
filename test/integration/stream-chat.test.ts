import { headers as createHeaders } from "@nats-io/nats-core";
import { LlmProviderError, StreamMessageSchema, SUBJECTS } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { collectStream } from "../support/streams.js";
import { startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";

/** Far above a stream's own duration here, so that "promptly" means "not at the idle timeout". */
const STREAM_IDLE_TIMEOUT_MS = 1_500;
let nats: NatsServerHandle;
let primary: FakeOpenAIServer;
let secondary: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer();
  primary = await startFakeOpenAIServer();
  secondary = await startFakeOpenAIServer();
  const config = testConfig(nats.url, [primary.baseUrl, secondary.baseUrl], {
    fallback_chains: [{ id: "chain", models: ["model-0", "model-1"] }],
  });
  for (const provider of config.providers) {
    provider.config = {
      ...provider.config,
      max_retries: 0,
      stream_first_chunk_timeout_ms: 300,
      stream_idle_timeout_ms: STREAM_IDLE_TIMEOUT_MS,
    };
  }
  service = await startTestService(config);
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([primary?.close(), secondary?.close()]);
  await nats?.stop();
});

beforeEach(() => {
  primary.reset();
  secondary.reset();
});

const ask = (content: string) => ({ model: "model-0", messages: [{ role: "user" as const, content }] });

describe("stream_chat through the typed client", () => {
  it("streams the answer in numbered chunks and ends with one terminal message with usage and cost", async () => {
    const stream = service.client.streamChat(ask("one two three"), { requestId: "stream-1" });
    const { chunks, text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(text).toBe("echo: one two three");
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_c, index) => index));
    expect(chunks.every((c) => c.request_id === "stream-1")).toBe(true);
    const done = await stream.done;
    expect(done).toMatchObject({
      type: "done",
      seq: chunks.length,
      request_id: "stream-1",
      model: "model-0",
      provider_id: "p0",
      finish_reason: "stop",
      raw_finish_reason: "stop",
    });
    expect(done.usage.completion_tokens).toBeGreaterThan(0);
    expect(done.usage.cost.total).toBeGreaterThan(0);
    expect(done.time_to_first_chunk_ms).toBeGreaterThan(0);
    expect(primary.requests[0]!.body).toMatchObject({
      model: "upstream-model-0",
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("works with requestMany and the sentinel strategy (as any NATS client would)", async () => {
    const hdrs = createHeaders();
    hdrs.set("Request-Id", "raw-stream");
    const replies = await service.nc.requestMany(SUBJECTS.streamChat, JSON.stringify(ask("a b")), {
      strategy: "sentinel",
      maxWait: 5_000,
      headers: hdrs,
    });
    const bodies: string[] = [];
    for await (const msg of replies) bodies.push(msg.string());
    // The stream ends with the empty sentinel message, after exactly one terminal message.
    expect(bodies.at(-1)).toBe("");
    bodies.pop();
    const messages = bodies.map((body) => StreamMessageSchema.parse(JSON.parse(body)));
    expect(messages.at(-1)!.type).toBe("done");
    expect(messages.slice(0, -1).every((m) => m.type === "chunk")).toBe(true);
  });

  it("falls back before the first chunk: a failing primary is invisible to the caller", async () => {
    primary.enqueue({ kind: "error", status: 503 });
    const stream = service.client.streamChat(ask("hello"));
    const { text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(text).toBe("echo: hello");
    const done = await stream.done;
    expect(done.provider_id).toBe("p1");
    expect(done.attempts.map((a) => `${a.provider_id}:${a.outcome}`)).toEqual(["p0:error", "p1:success"]);
  });

  it("a primary that sends nothing within the first-chunk limit is left for the fallback", async () => {
    primary.enqueue({ kind: "stream_fault", after: 1, fault: "stall" }); // role chunk only, then silence
    const stream = service.client.streamChat(ask("hello"));
    const { text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(text).toBe("echo: hello");
    expect((await stream.done).attempts[0]).toMatchObject({
      provider_id: "p0",
      error_code: "upstream_timeout",
    });
  });
});

describe("a stream that breaks after it began is never reported as complete", () => {
  // Rescue off: what a caller of stream protocol 1 gets too (test/integration/rescue.test.ts
  // covers the rescue).
  it.each([
    ["cut", "upstream_unavailable"],
    ["stall", "upstream_timeout"],
    ["malformed", "upstream_malformed_response"],
  ] as const)("%s after two chunks → the chunks, then a typed error; no fallback", async (fault, code) => {
    primary.enqueue({ kind: "stream_fault", after: 3, fault });
    const stream = service.client.streamChat({ ...ask("one two three four five"), stream_rescue: "off" });
    const { chunks, error } = await collectStream(stream);
    expect(chunks.map((c) => c.delta.content).join("")).toBe("echo: one ");
    expect(error).toBeInstanceOf(LlmProviderError);
    expect(error).toMatchObject({ code, retryable: false });
    expect(error!.message).toContain("stream interrupted after 2 chunk(s)");
    await expect(stream.done).rejects.toMatchObject({ code });
    expect(secondary.requests).toHaveLength(0);
  });

  it("a stream without [DONE] that is otherwise whole finishes, and promptly when the socket stays open", async () => {
    for (const fault of ["no_done", "hold_open"] as const) {
      primary.enqueue({ kind: "stream_fault", after: 0, fault });
      const started = performance.now();
      const stream = service.client.streamChat(ask("x y"));
      const { text, error } = await collectStream(stream);
      expect(error, fault).toBeUndefined();
      expect(text).toBe("echo: x y");
      expect((await stream.done).finish_reason).toBe("stop");
      expect(performance.now() - started, fault).toBeLessThan(STREAM_IDLE_TIMEOUT_MS);
    }
  });
});

describe("the caller stops reading", () => {
  it("the worker cancels the upstream call and frees the request", async () => {
    primary.enqueue({ kind: "stream_fault", after: 3, fault: "stall" });
    const stream = service.client.streamChat(ask("one two three four"));
    for await (const chunk of stream) {
      expect(chunk.seq).toBe(0);
      break; // stop reading after the first chunk
    }
    await expect(stream.done).rejects.toBeInstanceOf(LlmProviderError);
    for (let attempt = 0; attempt < 50 && service.app.service.inFlight() > 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(service.app.service.inFlight()).toBe(0);
    const stats = service.app.service.metrics.snapshot(SUBJECTS.streamChat, 0) as {
      errors_by_code: Record<string, number>;
    };
    expect(stats.errors_by_code.cancelled).toBe(1);
    // The worker is fine and serves the next stream.
    expect((await collectStream(service.client.streamChat(ask("again")))).text).toBe("echo: again");
  });
});

describe("refusals before any chunk", () => {
  it("come back as typed errors from the iteration", async () => {
    const unknown = await collectStream(service.client.streamChat({ ...ask("x"), model: "nope" }));
    expect(unknown.error).toMatchObject({ code: "unknown_model", field: "model" });
    const empty = await collectStream(service.client.streamChat({ model: "model-0", messages: [] }));
    expect(empty.error).toMatchObject({ code: "invalid_request", policy: "POL-LLM-003" });
  });
});
