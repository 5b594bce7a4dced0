// Every failure of the failover catalogue, through complete_chat and stream_chat: rescued by a
// retry or the fallback (a complete, correct answer), or a clean typed error — within the deadline.
import { headers as createHeaders } from "@nats-io/nats-core";
import { SUBJECTS, StreamMessageSchema } from "@llm-provider/contracts";
import type { LlmProviderError, StreamMessage } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropicServer } from "../fakes/anthropic-server.js";
import type { FakeAnthropicServer } from "../fakes/anthropic-server.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeBehavior, FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { startTestService, testConfig, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { collectStream } from "../support/streams.js";

/** The limits of the faulty provider here: short, so that every case ends quickly. */
const FIRST_BYTE_MS = 400;
const IDLE_MS = 400;
/** The request's deadline: every case must end (answered or a typed error) well before it. */
const DEADLINE_MS = 8_000;

let nats: NatsServerHandle;
let primary: FakeOpenAIServer;
let fallback: FakeOpenAIServer;
let anthropic: FakeAnthropicServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer();
  primary = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  fallback = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  anthropic = await startFakeAnthropicServer({ apiKey: TEST_API_KEY });
  const config = testConfig(nats.url, [primary.baseUrl, fallback.baseUrl], {
    fallback_chains: [
      { id: "chain", models: ["model-0", "model-1"] },
      { id: "chain-streamed", models: ["model-0s", "model-1s"] },
      { id: "to-prefill", models: ["plain", "claude"] },
    ],
    service: { default_timeout_ms: DEADLINE_MS },
  });
  // The same two servers again as providers whose complete_chat is read as a stream.
  config.providers.push(
    { ...config.providers[0]!, id: "p0s", config: { stream_upstream: true } },
    { ...config.providers[1]!, id: "p1s", config: { stream_upstream: true } },
  );
  config.models.push(
    { ...config.models[0]!, model_name: "model-0s", provider_id: "p0s" },
    { ...config.models[1]!, model_name: "model-1s", provider_id: "p1s" },
  );
  for (const provider of config.providers) {
    provider.config = {
      ...provider.config,
      timeout_ms: 3_000,
      first_byte_timeout_ms: FIRST_BYTE_MS,
      idle_timeout_ms: IDLE_MS,
      slow_failure_ms: 300,
      max_retry_after_ms: 500,
      retry_initial_backoff_ms: 20,
      retry_max_backoff_ms: 100,
    };
  }
  config.providers.push({
    id: "claude",
    name: "Anthropic",
    provider_type: "anthropic",
    endpoint: anthropic.baseUrl,
    api_key_ref: "env:TEST_OPENAI_KEY",
  });
  config.models.push(
    {
      model_name: "plain",
      provider_id: "p0",
      upstream_model: "upstream-plain",
      context_window: 8_192,
      max_tokens: 1_024,
      features: { chat: true, streaming: true, reasoning: true },
    },
    {
      model_name: "claude",
      provider_id: "claude",
      upstream_model: "claude-sonnet",
      context_window: 200_000,
      max_tokens: 1_024,
      features: { chat: true, streaming: true, assistant_prefill: true, reasoning: true },
    },
    {
      model_name: "batch-only",
      provider_id: "p0",
      upstream_model: "upstream-batch",
      context_window: 8_192,
      max_tokens: 1_024,
      features: { chat: true, streaming: false },
    },
  );
  service = await startTestService(config);
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([primary?.close(), fallback?.close(), anthropic?.close()]);
  await nats?.stop();
});

beforeEach(() => {
  primary.reset();
  fallback.reset();
  anthropic.reset();
});

const ask = (text: string) => ({ model: "model-0", messages: [{ role: "user" as const, content: text }] });

interface FaultCase {
  name: string;
  /** The faults of the answer as it comes: a stream (`stream_chat`, and `complete_chat` read as one)… */
  streamed: FakeBehavior[];
  /** … or one JSON body (`complete_chat`, by default). */
  unstreamed: FakeBehavior[];
  /** Who gives the complete answer, or the typed error the caller gets. */
  expect: { answeredBy: "primary" | "fallback" } | { error: string };
}

const cut = (fault: "cut" | "stall" | "malformed") => ({ kind: "stream_fault" as const, after: 3, fault });
const same = (...faults: FakeBehavior[]) => ({ streamed: faults, unstreamed: faults });
const times = (count: number, fault: FakeBehavior) => Array<FakeBehavior>(count).fill(fault);

const CASES: FaultCase[] = [
  {
    name: "429 without Retry-After, once",
    ...same({ kind: "error", status: 429 }),
    expect: { answeredBy: "primary" },
  },
  {
    name: "429 with a short Retry-After, once",
    ...same({ kind: "error", status: 429, headers: { "retry-after-ms": "50" } }),
    expect: { answeredBy: "primary" },
  },
  {
    name: "429 with a long Retry-After",
    ...same({ kind: "error", status: 429, headers: { "retry-after": "30" } }),
    expect: { answeredBy: "fallback" },
  },
  { name: "5xx once", ...same({ kind: "error", status: 500 }), expect: { answeredBy: "primary" } },
  {
    name: "5xx always",
    ...same(...times(5, { kind: "error", status: 502 })),
    expect: { answeredBy: "fallback" },
  },
  { name: "TCP reset always", ...same(...times(5, { kind: "reset" })), expect: { answeredBy: "fallback" } },
  // Slow failures: the fallback answers at once (a non-streamed silent upstream is cut at timeout_ms).
  { name: "a silent upstream", ...same({ kind: "hang" }), expect: { answeredBy: "fallback" } },
  {
    name: "a slow first token",
    ...same({ kind: "slow_body", ms: 5_000 }),
    expect: { answeredBy: "fallback" },
  },
  {
    name: "a stall mid-body",
    streamed: [cut("stall")],
    unstreamed: [{ kind: "slow_body", ms: 5_000 }],
    expect: { answeredBy: "fallback" },
  },
  // A cut or a bad answer is cheap to retry: the same provider answers on the next try…
  {
    name: "a cut mid-way, once",
    streamed: [cut("cut")],
    unstreamed: [{ kind: "cut_body" }],
    expect: { answeredBy: "primary" },
  },
  {
    name: "an invalid event or body, once",
    streamed: [cut("malformed")],
    unstreamed: [{ kind: "malformed" }],
    expect: { answeredBy: "primary" },
  },
  // … until its retries are spent.
  {
    name: "a cut mid-way, always",
    streamed: times(5, cut("cut")),
    unstreamed: times(5, { kind: "cut_body" }),
    expect: { answeredBy: "fallback" },
  },
  {
    name: "an invalid event or body, always",
    streamed: times(5, cut("malformed")),
    unstreamed: times(5, { kind: "malformed" }),
    expect: { answeredBy: "fallback" },
  },
  {
    name: "no [DONE] (finish reason and usage in)",
    streamed: [{ kind: "stream_fault", after: 0, fault: "no_done" }],
    unstreamed: [],
    expect: { answeredBy: "primary" },
  },
  {
    name: "context length exceeded (no larger window)",
    ...same({
      kind: "error",
      status: 400,
      code: "context_length_exceeded",
      message: "maximum context length",
    }),
    expect: { error: "context_length_exceeded" },
  },
  {
    name: "content policy",
    ...same({ kind: "error", status: 400, code: "content_filter", message: "The response was filtered." }),
    expect: { error: "content_filtered" },
  },
];

const MODES = [
  { name: "complete_chat", model: "model-0", streaming: false, streamedUpstream: false, ids: ["p0", "p1"] },
  {
    name: "complete_chat read as a stream",
    model: "model-0s",
    streaming: false,
    streamedUpstream: true,
    ids: ["p0s", "p1s"],
  },
  { name: "stream_chat", model: "model-0", streaming: true, streamedUpstream: true, ids: ["p0", "p1"] },
] as const;

describe.each(MODES)("every fault through $name", ({ model, streaming, streamedUpstream, ids }) => {
  it.each(CASES)("$name", async ({ streamed, unstreamed, expect: expected }) => {
    primary.enqueue(...(streamedUpstream ? streamed : unstreamed));
    const text = "rescue me now please";
    const request = { ...ask(text), model };
    let answer: { text: string; providerId: string } | { error: LlmProviderError };
    if (streaming) {
      const stream = service.client.streamChat(request, { timeoutMs: DEADLINE_MS + 2_000 });
      const collected = await collectStream(stream);
      answer = collected.error
        ? { error: collected.error }
        : { text: collected.text, providerId: (await stream.done).provider_id };
      if (!collected.error) expect((await stream.done).content).toBe(collected.text);
    } else {
      answer = await service.client.completeChat(request, { timeoutMs: DEADLINE_MS + 2_000 }).then(
        (completion) => ({ text: completion.content ?? "", providerId: completion.provider_id }),
        (error: unknown) => ({ error: error as LlmProviderError }),
      );
    }
    if ("answeredBy" in expected) {
      const providerId = expected.answeredBy === "primary" ? ids[0] : ids[1];
      expect(answer).toEqual({ text: `echo: ${text}`, providerId });
    } else {
      expect("error" in answer && answer.error.code).toBe(expected.error);
      expect(fallback.requests).toHaveLength(0);
    }
  });
});

describe("rescue mid-stream", () => {
  it("restarts the answer on the fallback with a `restart` message, and counts it", async () => {
    primary.enqueue(cut("stall"));
    const stream = service.client.streamChat(ask("one two three four five"));
    const { chunks, restarts, text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatchObject({
      mode: "restart",
      from: { provider_id: "p0", model: "model-0" },
      to: { provider_id: "p1", model: "model-1" },
      reason: { code: "upstream_timeout" },
    });
    expect(restarts[0]!.discarded_chunks).toBeGreaterThan(0);
    expect(restarts[0]!.discarded_chunks).toBeLessThan(chunks.length);
    expect(text).toBe("echo: one two three four five");
    const done = await stream.done;
    expect(done).toMatchObject({ provider_id: "p1", restarts: 1, content: text });
    expect(done.attempts.map((attempt) => [attempt.provider_id, attempt.outcome])).toEqual([
      ["p0", "error"],
      ["p1", "success"],
    ]);
  });

  it("restarts on the same target when a cheap retry there is allowed (a cut)", async () => {
    primary.enqueue(cut("cut"));
    const stream = service.client.streamChat(ask("a b c d e f"));
    const { restarts, text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(restarts).toMatchObject([
      {
        mode: "restart",
        from: { provider_id: "p0" },
        to: { provider_id: "p0" },
        reason: { code: "upstream_unavailable" },
      },
    ]);
    expect(text).toBe("echo: a b c d e f");
  });

  it("continues the partial answer where the fallback takes an assistant prefill", async () => {
    primary.enqueue(cut("stall"));
    const stream = service.client.streamChat({
      ...ask("alpha beta gamma delta"),
      model: "plain",
      stream_rescue: "continue",
    });
    const { restarts, text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(restarts).toMatchObject([
      { mode: "continue", discarded_chunks: 0, to: { provider_id: "claude" } },
    ]);
    expect(text).toBe("echo: alpha beta gamma delta");
    // The fallback was sent the partial answer to continue, without trailing whitespace.
    const sent = anthropic.requests.at(-1)!.body as { messages: { role: string; content: unknown }[] };
    expect(sent.messages.at(-1)!.role).toBe("assistant");
  });

  it("restarts instead of continuing when the request asks for reasoning (no prefill with thinking)", async () => {
    primary.enqueue(cut("stall"));
    const stream = service.client.streamChat({
      ...ask("alpha beta gamma delta"),
      model: "plain",
      stream_rescue: "continue",
      reasoning_effort: "low",
    });
    const { restarts, text, error } = await collectStream(stream);
    expect(error).toBeUndefined();
    expect(restarts).toMatchObject([{ mode: "restart", to: { provider_id: "claude" } }]);
    expect(text).toBe("echo: alpha beta gamma delta");
    const sent = anthropic.requests.at(-1)!.body as { messages: { role: string }[] };
    expect(sent.messages.at(-1)!.role).toBe("user");
  });

  it("an old client (stream protocol 1) gets a clean error, never mixed text", async () => {
    primary.enqueue(cut("cut"));
    const replies = await service.nc.requestMany(
      SUBJECTS.streamChat,
      JSON.stringify(ask("old client here")),
      {
        strategy: "sentinel",
        maxWait: 5_000,
        headers: createHeaders(), // no Stream-Protocol
      },
    );
    const messages: StreamMessage[] = [];
    for await (const msg of replies)
      if (msg.data.length > 0) messages.push(StreamMessageSchema.parse(msg.json()));
    expect(messages.some((message) => message.type === "restart")).toBe(false);
    expect(messages.at(-1)!.type).toBe("error");
    expect(fallback.requests).toHaveLength(0);
  });

  it("with stream_rescue off, a failure after the first chunk ends the stream with an error", async () => {
    primary.enqueue(cut("cut"));
    const { error, restarts } = await collectStream(
      service.client.streamChat({ ...ask("x y z w"), stream_rescue: "off" }),
    );
    expect(error).toMatchObject({ code: "upstream_unavailable" });
    expect(restarts).toEqual([]);
  });
});

describe("a model that cannot stream", () => {
  it("a stalled body is cut by the idle limit and the request ends with a typed error in time", async () => {
    primary.enqueue({ kind: "slow_body", ms: 5_000 });
    const started = performance.now();
    const error = (await service.client
      .completeChat({ ...ask("x"), model: "batch-only" })
      .catch((e: unknown) => e)) as LlmProviderError;
    expect(error.code).toMatch(/^upstream_/);
    expect(performance.now() - started).toBeLessThan(DEADLINE_MS);
  });
});

describe("a flapping provider", () => {
  it("every request is answered completely, by a retry or the fallback", async () => {
    for (let index = 0; index < 6; index++)
      primary.enqueue({ kind: "error", status: 503 }, { kind: "default" });
    for (let index = 0; index < 6; index++) {
      const completion = await service.client.completeChat(ask(`flap ${index}`));
      expect(completion.content).toBe(`echo: flap ${index}`);
    }
  });
});
