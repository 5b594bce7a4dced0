// What the model capabilities decide, through the real service over NATS: list_models reports
// them; a content part the requested model (or its provider's API) cannot take is refused with
// `unsupported_content` before any upstream call; a fallback target that cannot take it is skipped
// with its reason; breakpoints a model takes none of are not sent and the reply says so; a request
// larger than the server's max_payload is refused by the typed client before it is sent.
import type { CompleteChatInput } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import { multiWireConfig, startTestService, TEST_API_KEY, type TestService } from "../support/service.js";
import { refusalOf } from "../support/refusal.js";

const MAX_PAYLOAD = 64 * 1024;
const PNG =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

let nats: NatsServerHandle;
let openai: FakeOpenAIServer;
let service: TestService;

const FULL = {
  chat: true,
  function_calling: true,
  streaming: true,
  vision: true,
  files: true,
  reasoning: true,
};

beforeAll(async () => {
  [nats, openai] = await Promise.all([
    startNatsServer({ maxPayload: MAX_PAYLOAD }),
    startFakeOpenAIServer({ apiKey: TEST_API_KEY }),
  ]);
  const openaiProvider = (id: string) => ({
    id,
    provider_type: "openai" as const,
    endpoint: openai.baseUrl,
    api_key_ref: "env:TEST_OPENAI_KEY",
  });
  const config = multiWireConfig(
    nats.url,
    [
      {
        provider: openaiProvider("openai"),
        model: { model_name: "seeing", upstream_model: "gpt-4o", features: FULL },
      },
      {
        provider: openaiProvider("openai-b"),
        model: {
          model_name: "blind",
          upstream_model: "gpt-4o-mini",
          features: { chat: true, function_calling: true, streaming: true },
        },
      },
      {
        // Never called: every test that reaches it skips it before a call.
        provider: { id: "local", provider_type: "ollama", endpoint: "http://127.0.0.1:9" },
        model: { model_name: "local-vision", upstream_model: "llava", features: { ...FULL, files: false } },
      },
    ],
    { fallback_chains: [{ id: "seeing-then-others", models: ["seeing", "blind", "local-vision"] }] },
  );
  service = await startTestService(config, { TEST_OPENAI_KEY: TEST_API_KEY });
});

afterAll(async () => {
  await service?.stop();
  await openai?.close();
  await nats?.stop();
});

beforeEach(() => openai.reset());

function withImage(model: string, url: string): CompleteChatInput {
  return {
    model,
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url } },
        ],
      },
    ],
  };
}

/** A stream read to its end: its terminal message, or its error. */
async function streamed(request: CompleteChatInput): Promise<unknown> {
  const stream = service.client.streamChat(request);
  for await (const _chunk of stream);
  return stream.done;
}

describe("list_models", () => {
  it("reports each model's capabilities", async () => {
    const { data } = await service.client.listModels();
    const byName = new Map(data.map((model) => [model.model_name, model]));
    expect(byName.get("seeing")?.capabilities).toEqual({
      vision: true,
      files: true,
      reasoning: true,
      prompt_caching: false,
      tools: true,
      structured_output: true,
      streaming: true,
    });
    expect(byName.get("blind")?.capabilities).toMatchObject({
      vision: false,
      files: false,
      reasoning: false,
    });
    expect(byName.get("blind")?.feature_flags).toEqual({
      chat: true,
      embedding: false,
      function_calling: true,
      streaming: true,
      assistant_prefill: false,
    });
  });
});

describe("content a model cannot take", () => {
  it("is refused for the requested model with unsupported_content naming the part, before any call", async () => {
    const error = await refusalOf(service.client.completeChat(withImage("blind", PNG)));
    expect(error).toMatchObject({
      code: "unsupported_content",
      field: "messages[0].content[1]",
      message: "model 'blind' does not take images (no vision capability)",
      retryable: false,
    });
    const streamRefusal = await refusalOf(streamed(withImage("blind", PNG)));
    expect(streamRefusal.code).toBe("unsupported_content");
    expect(openai.requests).toHaveLength(0);
  });

  it("is refused when no other capability is missing but the reasoning one", async () => {
    const error = await refusalOf(
      service.client.completeChat({
        model: "blind",
        reasoning_effort: "high",
        messages: [{ role: "user", content: "Hi" }],
      }),
    );
    expect(error).toMatchObject({ code: "unsupported", field: "reasoning_effort" });
    expect(openai.requests).toHaveLength(0);
  });

  it("skips fallback targets that cannot take it, each with its reason, and never calls them", async () => {
    openai.setModelBehavior("gpt-4o", { kind: "error", status: 500 });
    const error = await refusalOf(
      service.client.completeChat(withImage("seeing", "https://example.com/cat.png")),
    );
    expect(error.code).toBe("upstream_unavailable");
    const attempts = error.details?.["attempts"] as {
      model: string;
      outcome: string;
      skip_reason?: string;
      reason?: string;
    }[];
    expect(attempts.filter((attempt) => attempt.outcome === "skipped")).toEqual([
      expect.objectContaining({
        model: "blind",
        skip_reason: "missing_capability",
        reason: "model 'blind' does not take images (no vision capability)",
      }),
      expect.objectContaining({
        model: "local-vision",
        skip_reason: "missing_capability",
        reason: "model 'local-vision' takes images only as base64 data URLs (ollama fetches no URL)",
      }),
    ]);
    expect(openai.requests.every((request) => (request.body as { model: string }).model === "gpt-4o")).toBe(
      true,
    );
  });
});

describe("prompt-cache breakpoints on a model that takes none", () => {
  it("are not sent, and the reply warns", async () => {
    const completion = await service.client.completeChat({
      model: "seeing",
      messages: [{ role: "user", content: "Summarise the manual", cache_control: { type: "ephemeral" } }],
    });
    expect(completion.warnings).toEqual([
      "cache_control not sent: model 'seeing' takes no prompt-cache breakpoints " +
        "(providers that cache by themselves, as OpenAI does, still report cached_input_tokens)",
    ]);
    expect(JSON.stringify(openai.requests[0]?.body)).not.toContain("cache_control");
  });
});

describe("a request larger than the server's max_payload", () => {
  it("is refused by the typed client with payload_too_large and what to do instead", async () => {
    const big = `data:image/png;base64,${"A".repeat(MAX_PAYLOAD)}`;
    const error = await refusalOf(service.client.completeChat(withImage("seeing", big)));
    expect(error.code).toBe("payload_too_large");
    expect(error.message).toMatch(
      /over the NATS server's max_payload of 65536: send large images and files by URL/,
    );
    const streamRefusal = await refusalOf(streamed(withImage("seeing", big)));
    expect(streamRefusal.code).toBe("payload_too_large");
    expect(openai.requests).toHaveLength(0);
  });
});
