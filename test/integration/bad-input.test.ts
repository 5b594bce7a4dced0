import { SUBJECTS } from "@llm-provider/contracts";
import type { ErrorEnvelope } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { embedderModel, startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer();
  const config = testConfig(nats.url, [upstream.baseUrl]);
  config.service = { max_request_bytes: 4_096 };
  config.models.push(embedderModel());
  config.models.push({
    model_name: "plain-chat",
    provider_id: "p0",
    context_window: 4_096,
    max_tokens: 256,
    features: { chat: true, embedding: false, function_calling: false, streaming: false },
  });
  service = await startTestService(config);
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

beforeEach(() => upstream.reset());

/** Sends raw bytes as a caller would and returns the error reply (headers + body). */
async function rawError(payload: string | Uint8Array, subject: string = SUBJECTS.completeChat) {
  const reply = await service.nc.request(subject, payload, { timeout: 3_000 });
  const status = reply.headers?.get("Nats-Service-Error-Code");
  expect(status, `expected an error reply, got ${reply.string()}`).toBeTruthy();
  return {
    status: Number(status),
    description: reply.headers?.get("Nats-Service-Error"),
    ...reply.json<ErrorEnvelope>(),
  };
}

const valid = { model: "model-0", messages: [{ role: "user", content: "hi" }] };

describe("bad input never reaches a provider and gets a typed error", () => {
  it("non-JSON payload → invalid_json (400)", async () => {
    const reply = await rawError("{not json");
    expect(reply.status).toBe(400);
    expect(reply.error).toMatchObject({ code: "invalid_json", retryable: false });
    expect(reply.description).toContain("not valid JSON");
  });

  it("empty message list → POL-LLM-003 naming the field", async () => {
    const reply = await rawError(JSON.stringify({ model: "model-0", messages: [] }));
    expect(reply.error).toEqual({
      code: "invalid_request",
      message: "messages must not be empty",
      field: "messages",
      policy: "POL-LLM-003",
      retryable: false,
    });
  });

  it("a message without content → POL-LLM-003 naming that message", async () => {
    const reply = await rawError(
      JSON.stringify({
        model: "model-0",
        messages: [
          { role: "system", content: "x" },
          { role: "user", content: "" },
        ],
      }),
    );
    expect(reply.error).toMatchObject({
      code: "invalid_request",
      field: "messages[1].content",
      policy: "POL-LLM-003",
    });
  });

  it("unknown role → invalid_request naming messages[0].role", async () => {
    const reply = await rawError(
      JSON.stringify({ model: "model-0", messages: [{ role: "wizard", content: "hi" }] }),
    );
    expect(reply.error.code).toBe("invalid_request");
    expect(reply.error.field).toBe("messages[0].role");
    expect(reply.error.policy).toBeUndefined();
  });

  it("missing model, wrong types and unknown fields are named", async () => {
    expect((await rawError(JSON.stringify({ messages: valid.messages }))).error.field).toBe("model");
    expect((await rawError(JSON.stringify({ ...valid, temperature: "hot" }))).error.field).toBe(
      "temperature",
    );
    expect((await rawError(JSON.stringify({ ...valid, temperature: 7 }))).error.field).toBe("temperature");
    const unknown = await rawError(JSON.stringify({ ...valid, temprature: 0.5 }));
    expect(unknown.error).toMatchObject({ code: "invalid_request", field: "temprature" });
    expect(unknown.error.message).toContain("unknown field");
  });

  it("unknown model → unknown_model (404)", async () => {
    const reply = await rawError(JSON.stringify({ ...valid, model: "gpt-17" }));
    expect(reply.status).toBe(404);
    expect(reply.error).toMatchObject({ code: "unknown_model", field: "model" });
  });

  it("features decide: chat with an embedding model, functions with a plain model → unsupported", async () => {
    expect((await rawError(JSON.stringify({ ...valid, model: "embedder" }))).error).toMatchObject({
      code: "unsupported",
      field: "model",
    });
    const functions = [{ name: "weather", parameters: { type: "object" } }];
    expect(
      (await rawError(JSON.stringify({ ...valid, model: "plain-chat", functions }))).error,
    ).toMatchObject({
      code: "unsupported",
      field: "functions",
    });
  });

  it("max_tokens above the model's limit is refused, not clamped", async () => {
    const reply = await rawError(JSON.stringify({ ...valid, model: "plain-chat", max_tokens: 100_000 }));
    expect(reply.error).toMatchObject({ code: "invalid_request", field: "max_tokens" });
  });

  it("payload over the size limit → payload_too_large (413)", async () => {
    const big = JSON.stringify({ ...valid, messages: [{ role: "user", content: "x".repeat(10_000) }] });
    const reply = await rawError(big);
    expect(reply.status).toBe(413);
    expect(reply.error).toMatchObject({ code: "payload_too_large", details: { limit: 4_096 } });
  });

  it("the typed client checks the request before sending it", async () => {
    const error = await service.client
      .completeChat({ model: "model-0", messages: [{ role: "wizard" as never, content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "invalid_request", field: "messages[0].role" });
  });

  it("after all that, nothing reached the provider and the worker still serves", async () => {
    await rawError("][");
    expect(upstream.requests).toHaveLength(0);
    const completion = await service.client.completeChat({
      model: "model-0",
      messages: [{ role: "user", content: "still there?" }],
    });
    expect(completion.content).toBe("echo: still there?");
    expect(upstream.requests).toHaveLength(1);
  });
});
