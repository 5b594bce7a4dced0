// Proves the test infrastructure itself: a real nats-server per test file, and the fake OpenAI
// server driven through the official `openai` SDK exactly as production code will drive it.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer, type NatsServerHandle } from "./nats-server.js";
import { isProcessAlive, pathExists } from "../support/processes.js";

/** Resolves with whatever the promise rejects with; fails if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

/** Resolves on the next status event of the given type, or rejects after `timeoutMs`. */
async function nextStatus(nc: NatsConnection, type: string, timeoutMs = 10_000): Promise<void> {
  const iterator = nc.status()[Symbol.asyncIterator]();
  const timer = setTimeout(() => void iterator.return?.(), timeoutMs);
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) throw new Error(`no "${type}" status within ${timeoutMs} ms`);
      if (next.value.type === type) return;
    }
  } finally {
    clearTimeout(timer);
    await iterator.return?.();
  }
}

describe("nats-server harness", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it("listens on loopback and answers a request/reply round trip", async () => {
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    const sub = nc.subscribe("harness.echo", {
      callback: (_err, msg) => {
        msg.respond(`re: ${msg.string()}`);
      },
    });
    try {
      const reply = await nc.request("harness.echo", "ping", { timeout: 2_000 });
      expect(reply.string()).toBe("re: ping");
    } finally {
      sub.unsubscribe();
    }
  });

  it("has JetStream enabled with a store dir", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "HARNESS", subjects: ["harness.js.>"] });
    await jetstream(nc).publish("harness.js.one", "payload");

    const info = await jsm.streams.info("HARNESS");
    expect(info.config.name).toBe("HARNESS");
    expect(info.state.messages).toBe(1);
    expect(await pathExists(server.storeDir)).toBe(true);
  });

  it("restart() keeps the port and the store, and the client reconnects", async () => {
    const { port, pid: oldPid } = server;
    const reconnected = nextStatus(nc, "reconnect");
    await server.restart();
    await reconnected;

    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(oldPid);
    expect(isProcessAlive(oldPid)).toBe(false);
    const info = await (await jetstreamManager(nc)).streams.info("HARNESS");
    expect(info.state.messages).toBe(1);
  });

  it("stop() ends the process and removes its directory", async () => {
    const own = await startNatsServer({ jetstream: false, maxPayload: 64 * 1024 });
    const { pid, storeDir } = own;
    const client = await connect({ servers: own.url });
    expect(client.info?.max_payload).toBe(64 * 1024);
    await client.close();

    await own.stop();
    expect(isProcessAlive(pid)).toBe(false);
    expect(await pathExists(storeDir)).toBe(false);
    await own.stop(); // idempotent
  });

  it("fails clearly when the binary cannot be started", async () => {
    vi.stubEnv("NATS_SERVER_BIN", "/nonexistent/nats-server");
    try {
      const err = await rejectionOf(startNatsServer());
      expect(String(err)).toMatch(/could not be spawned[\s\S]*ENOENT/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("fake OpenAI server", () => {
  const apiKey = "sk-test-harness-key";
  let fake: FakeOpenAIServer;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAIServer({ apiKey });
    client = new OpenAI({ apiKey, baseURL: fake.baseUrl, maxRetries: 0 });
  });

  afterEach(() => fake.reset());
  afterAll(async () => {
    await fake?.close();
  });

  it("answers a chat completion with an echo and deterministic usage", async () => {
    const messages = [
      { role: "system" as const, content: "be brief" },
      { role: "user" as const, content: "hello there" },
    ];
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages });

    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("gpt-4o-mini");
    expect(completion.choices[0]?.message.content).toBe("echo: hello there");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    // prompt: ceil(19 chars / 4) = 5; completion: 3 words
    expect(completion.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    expect(completion._request_id).toMatch(/^req_[0-9a-f]{32}$/);

    const recorded = fake.requests[0];
    expect(recorded?.method).toBe("POST");
    expect(recorded?.path).toBe("/v1/chat/completions");
    expect(recorded?.headers["authorization"]).toBe(`Bearer ${apiKey}`);
    expect(recorded?.body).toMatchObject({ model: "gpt-4o-mini", messages });
  });

  it("truncates at max_tokens with finish_reason length", async () => {
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "one two three four" }],
      max_tokens: 3,
    });
    expect(completion.choices[0]?.message.content).toBe("echo: one two");
    expect(completion.choices[0]?.finish_reason).toBe("length");
    expect(completion.usage?.completion_tokens).toBe(3);
  });

  it("streams a chat completion as SSE chunks", async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "stream me please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finishReason: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      text += chunk.choices[0]?.delta.content ?? "";
      finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe("echo: stream me please");
    expect(finishReason).toBe("stop");
    expect(usage).toMatchObject({ completion_tokens: 4 });
  });

  it("serves a configured tool-call reply, plain and streamed", async () => {
    const toolCall = {
      id: "call_1",
      type: "function" as const,
      function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
    };
    fake.setChatReply({ content: null, tool_calls: [toolCall] });
    const params = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "weather?" }] };

    const plain = await client.chat.completions.create(params);
    expect(plain.choices[0]?.finish_reason).toBe("tool_calls");
    expect(plain.choices[0]?.message.tool_calls).toEqual([toolCall]);

    const streamed = await client.chat.completions.stream(params).finalChatCompletion();
    expect(streamed.choices[0]?.finish_reason).toBe("tool_calls");
    expect(streamed.choices[0]?.message.tool_calls).toEqual([toolCall]);
  });

  it("returns deterministic embeddings through the SDK's default base64 path", async () => {
    const first = await client.embeddings.create({ model: "text-embedding-3-small", input: "alpha" });
    const again = await client.embeddings.create({ model: "text-embedding-3-small", input: "alpha" });
    const other = await client.embeddings.create({ model: "text-embedding-3-small", input: "beta" });

    expect(fake.requests[0]?.body).toMatchObject({ encoding_format: "base64" });
    const vector = first.data[0]?.embedding ?? [];
    expect(vector).toHaveLength(8);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    expect(again.data[0]?.embedding).toEqual(vector);
    expect(other.data[0]?.embedding).not.toEqual(vector);
    expect(first.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
  });

  it("embeds array input with requested dimensions, same values as float format", async () => {
    const input = ["alpha", "gamma"];
    const base64 = await client.embeddings.create({ model: "text-embedding-3-small", input, dimensions: 16 });
    const floats = await client.embeddings.create({
      model: "text-embedding-3-small",
      input,
      dimensions: 16,
      encoding_format: "float",
    });

    expect(base64.data.map((d) => d.index)).toEqual([0, 1]);
    expect(base64.data.map((d) => d.embedding.length)).toEqual([16, 16]);
    expect(floats.data.map((d) => d.embedding)).toEqual(base64.data.map((d) => d.embedding));
  });

  it("lists models and answers unknown paths with OpenAI's 404", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain("gpt-4o-mini");

    const response = await fetch(`${fake.baseUrl}/nope`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: {
        message: "Invalid URL (GET /v1/nope)",
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
  });

  it("surfaces a 429 as RateLimitError with retry-after readable", async () => {
    fake.enqueue({ kind: "error", status: 429, headers: { "retry-after": "7" } });
    const err = await rejectionOf(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    );

    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimit = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.headers.get("retry-after")).toBe("7");
    expect(rateLimit.code).toBe("rate_limit_exceeded");
    expect(rateLimit.type).toBe("requests");
    // The queue is FIFO and one-shot: the next request gets the normal answer.
    await expect(client.models.list()).resolves.toBeDefined();
  });

  it("surfaces a reset socket as APIConnectionError", async () => {
    fake.enqueue({ kind: "reset" });
    const err = await rejectionOf(client.models.list());
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
  });

  it("sends a malformed JSON body that the SDK cannot parse", async () => {
    fake.enqueue({ kind: "malformed" });
    const err = await rejectionOf(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    );
    expect(err).toBeInstanceOf(SyntaxError);
  });

  it("delays one request while the next one is answered at once", async () => {
    fake.enqueue({ kind: "delay", ms: 200 }, { kind: "default" });
    const finished: string[] = [];
    const delayed = client.models.list().then(() => finished.push("delayed"));
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1)); // the delay is taken by the first request
    await client.models.list().then(() => finished.push("immediate"));
    await delayed;
    expect(finished).toEqual(["immediate", "delayed"]);
  });

  it("rejects a wrong API key with OpenAI's 401 invalid_api_key", async () => {
    const wrong = new OpenAI({ apiKey: "sk-wrong-key-123456", baseURL: fake.baseUrl, maxRetries: 0 });
    const err = await rejectionOf(wrong.models.list());

    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    const auth = err as InstanceType<typeof OpenAI.AuthenticationError>;
    expect(auth.status).toBe(401);
    expect(auth.code).toBe("invalid_api_key");
    expect(auth.message).toContain("Incorrect API key provided: sk-");
    expect(auth.message).not.toContain("sk-wrong-key-123456");

    // No bearer token at all: OpenAI's "You didn't provide an API key" flavour, whose code is null.
    const anonymous = await fetch(`${fake.baseUrl}/models`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { type: "invalid_request_error", code: null } });
  });

  it("close() ends hanging requests", async () => {
    const own = await startFakeOpenAIServer();
    try {
      const ownClient = new OpenAI({ apiKey: "unused", baseURL: own.baseUrl, maxRetries: 0 });
      own.enqueue({ kind: "hang" });
      const pending = rejectionOf(ownClient.models.list());
      await vi.waitFor(() => expect(own.requests).toHaveLength(1));
      await own.close();
      expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
    } finally {
      await own.close();
    }
  });
});
