// Issue 21 on the OpenAI wire, through its ProviderClient for OpenAI, Azure OpenAI and OpenRouter,
// against fakes that refuse what each API refuses (max_tokens on GPT-5, reasoning_effort on other
// models, parts of the wrong shape, OpenRouter's fields on OpenAI): content parts, the developer
// role, the output cap, reasoning, prompt caching and the usage details — streamed and not.
import type { CompleteChat } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { UpstreamError } from "../../services/llm-provider/src/domain/failure.js";
import type {
  ChatStreamPart,
  ProviderClient,
} from "../../services/llm-provider/src/ports/provider-client.js";
import { startFakeAzureOpenAIServer, type FakeAzureOpenAIServer } from "../fakes/azure-openai-server.js";
import { startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { SAMPLE_MEDIA } from "./anthropic-wire-session.js";
import { CONFORMANCE_API_KEY, createWireClient, providerSpec } from "./wire-session.js";

type Request = Omit<CompleteChat, "model">;
type End = Extract<ChatStreamPart, { type: "end" }>["end"];

/** One flavour under test: its client, and what reached the OpenAI fake behind it. */
interface Flavour {
  client: ProviderClient;
  sent: (at?: number) => Record<string, unknown>;
}

const call = (upstreamModel: string, request: Request, promptCaching = false) => ({
  upstreamModel,
  modelMaxTokens: 8_192,
  request: { model: "m", ...request },
  promptCaching,
  signal: new AbortController().signal,
});
async function streamed(client: ProviderClient, upstreamModel: string, request: Request, caching = false) {
  let content = "";
  let reasoning = "";
  let end: End | undefined;
  for await (const part of client.streamChat!(call(upstreamModel, request, caching))) {
    if (part.type === "end") end = part.end;
    else {
      content += part.delta.content ?? "";
      reasoning += part.delta.reasoning ?? "";
    }
  }
  return { content, reasoning, end: end! };
}
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as UpstreamError,
  );
const EPHEMERAL = { type: "ephemeral" } as const;
const PDF = `data:application/pdf;base64,${SAMPLE_MEDIA.pdf}`;
const TEXT_FILE = `data:text/plain;base64,${Buffer.from(SAMPLE_MEDIA.text).toString("base64")}`;
/** About 1,500 tokens by the fakes' count (4 characters a token): enough for a prompt cache. */
const LONG_SYSTEM = "You answer questions about the handbook. ".repeat(150);
const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
};

let openai: FakeOpenAIServer;
let azure: FakeAzureOpenAIServer;
let openrouter: FakeOpenAIServer;
const flavours: Record<"openai" | "azure_openai" | "openrouter", Flavour> = {} as never;
const closers: (() => Promise<void>)[] = [];

function flavour(fake: FakeOpenAIServer, spec: Parameters<typeof providerSpec>[0]): Flavour {
  const { client, closeTransport } = createWireClient(providerSpec(spec), CONFORMANCE_API_KEY);
  closers.push(closeTransport);
  return { client, sent: (at = -1) => fake.requests.at(at)!.body as Record<string, unknown> };
}

beforeAll(async () => {
  [openai, azure, openrouter] = await Promise.all([
    startFakeOpenAIServer({ apiKey: CONFORMANCE_API_KEY }),
    startFakeAzureOpenAIServer({ apiKey: CONFORMANCE_API_KEY, deployments: ["gpt-4o-mini", "gpt-5-mini"] }),
    startFakeOpenAIServer({ apiKey: CONFORMANCE_API_KEY, flavour: "openrouter" }),
  ]);
  flavours.openai = flavour(openai, { id: "openai", provider_type: "openai", endpoint: openai.baseUrl });
  flavours.azure_openai = flavour(azure.openai, {
    id: "azure",
    provider_type: "azure_openai",
    endpoint: azure.endpoint,
    api_version: "2024-10-21",
  });
  flavours.openrouter = flavour(openrouter, {
    id: "openrouter",
    provider_type: "openrouter",
    endpoint: openrouter.baseUrl,
    openrouter: { provider: { order: ["anthropic"], allow_fallbacks: false } },
  });
});
afterAll(async () => {
  for (const close of closers) await close();
  await Promise.all([openai?.close(), azure?.close(), openrouter?.close()]);
});
beforeEach(() => {
  openai.reset();
  azure.reset();
  openrouter.reset();
});

describe.each(["openai", "azure_openai"] as const)("%s: OpenAI's own API", (name) => {
  const wire = () => flavours[name];

  it("sends developer as developer, images, PDFs and plain-text files as Chat Completions parts", async () => {
    const outcome = await wire().client.completeChat(
      call("gpt-4o-mini", {
        messages: [
          { role: "developer", content: "Answer in one line." },
          {
            role: "user",
            content: [
              { type: "text", text: "Compare these", cache_control: EPHEMERAL },
              { type: "image_url", image_url: { url: `data:image/png;base64,${SAMPLE_MEDIA.png}` } },
              { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "high" } },
              { type: "file", file: { file_data: PDF } },
              { type: "file", file: { file_data: TEXT_FILE, filename: "notes.txt" } },
            ],
            cache_control: EPHEMERAL,
          },
        ],
        prompt_cache: "auto",
      }),
    );
    // Breakpoints never reach OpenAI (it caches by itself; the fake refuses the field).
    expect(wire().sent().messages).toEqual([
      { role: "developer", content: "Answer in one line." },
      {
        role: "user",
        content: [
          { type: "text", text: "Compare these" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${SAMPLE_MEDIA.png}` } },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "high" } },
          { type: "file", file: { filename: "document.pdf", file_data: PDF } },
          { type: "text", text: `<file name="notes.txt">\n${SAMPLE_MEDIA.text}\n</file>` },
        ],
      },
    ]);
    expect(outcome.content).toBe(`echo: Compare these<file name="notes.txt">\n${SAMPLE_MEDIA.text}\n</file>`);
    expect(outcome.warnings).toEqual([]);
  });

  it("asks GPT-5 with max_completion_tokens and reasoning_effort, and reads its reasoning tokens", async () => {
    const request: Request = {
      messages: [{ role: "user", content: "Plan the trip" }],
      max_tokens: 500,
      reasoning_effort: "high",
    };
    const outcome = await wire().client.completeChat(call("gpt-5-mini", request));
    expect(wire().sent()).toMatchObject({ max_completion_tokens: 500, reasoning_effort: "high" });
    expect(wire().sent()).not.toHaveProperty("max_tokens");
    expect(outcome.reasoning).toBeUndefined(); // OpenAI returns no reasoning text on Chat Completions
    // Reasoning is part of the completion: 256 reasoning tokens and the four words of the echo.
    expect(outcome.usage).toMatchObject({ reasoningTokens: 256, completionTokens: 256 + 4 });

    const { content, end } = await streamed(wire().client, "gpt-5-mini", request);
    expect(wire().sent()).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(content).toBe("echo: Plan the trip");
    expect(end.usage).toMatchObject({ reasoningTokens: 256 });
  });

  it("sends a thinking budget as the nearest effort, and says so", async () => {
    const outcome = await wire().client.completeChat(
      call("gpt-5-mini", {
        messages: [{ role: "user", content: "Why?" }],
        thinking: { type: "enabled", budget_tokens: 1_024 },
      }),
    );
    expect(wire().sent().reasoning_effort).toBe("low");
    expect(outcome.usage?.reasoningTokens).toBe(64);
    expect(outcome.warnings).toEqual([
      `thinking.budget_tokens is not supported by ${name}; sent as reasoning_effort "low", the nearest effort to 1024 tokens`,
    ]);
  });

  it("passes parallel_tool_calls with the tools, and warns that provider_preferences are OpenRouter's", async () => {
    const outcome = await wire().client.completeChat(
      call("gpt-4o-mini", {
        messages: [{ role: "user", content: "Weather in Oslo?" }],
        tools: [{ ...weatherTool, cache_control: EPHEMERAL }],
        parallel_tool_calls: false,
        provider_preferences: { only: ["openai"] },
      }),
    );
    expect(wire().sent()).toMatchObject({ parallel_tool_calls: false, tools: [weatherTool] });
    expect(wire().sent()).not.toHaveProperty("provider");
    expect(outcome.warnings).toEqual([`provider_preferences is OpenRouter's and was not sent to ${name}`]);
  });

  it("reports OpenAI's automatic prompt cache: a long prompt seen before is read in steps of 128 tokens", async () => {
    const request: Request = {
      messages: [
        { role: "system", content: LONG_SYSTEM },
        { role: "user", content: "What is the leave policy?" },
      ],
    };
    const first = await wire().client.completeChat(call("gpt-4o-mini", request));
    expect(first.usage?.cacheReadTokens).toBeUndefined();
    const second = await wire().client.completeChat(call("gpt-4o-mini", request));
    const read = second.usage!.cacheReadTokens!;
    expect(read).toBeGreaterThanOrEqual(1_024);
    expect(read % 128).toBe(0);
    expect(read).toBeLessThanOrEqual(second.usage!.promptTokens);

    const { end } = await streamed(wire().client, "gpt-4o-mini", request);
    expect(end.usage?.cacheReadTokens).toBe(read);
  });

  it("a model that does not reason refuses reasoning_effort with OpenAI's 400", async () => {
    const failure = await failureOf(
      wire().client.completeChat(
        call("gpt-4o-mini", { messages: [{ role: "user", content: "Hi" }], reasoning_effort: "low" }),
      ),
    );
    expect(failure).toMatchObject({
      failure: "bad_request",
      status: 400,
      providerCode: "unsupported_parameter",
    });
    expect(failure?.message).toContain(
      "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
    );
  });
});

describe("openrouter: OpenRouter's extensions", () => {
  const wire = () => flavours.openrouter;

  it("sends developer as system, a PDF URL as file_data, and breakpoints on text parts when the model caches", async () => {
    await wire().client.completeChat(
      call(
        "anthropic/claude-sonnet-4.5",
        {
          messages: [
            { role: "developer", content: "Be brief.", cache_control: EPHEMERAL },
            {
              role: "user",
              content: [
                { type: "text", text: "Summarise" },
                {
                  type: "file",
                  file: { file_url: "https://example.com/report.pdf", filename: "report.pdf" },
                },
                { type: "text", text: "in a line", cache_control: EPHEMERAL },
              ],
            },
          ],
          max_completion_tokens: 200,
        },
        true,
      ),
    );
    expect(wire().sent()).toMatchObject({
      max_tokens: 200,
      messages: [
        { role: "system", content: [{ type: "text", text: "Be brief.", cache_control: EPHEMERAL }] },
        {
          role: "user",
          content: [
            { type: "text", text: "Summarise" },
            { type: "file", file: { filename: "report.pdf", file_data: "https://example.com/report.pdf" } },
            { type: "text", text: "in a line", cache_control: EPHEMERAL },
          ],
        },
      ],
    });
    expect(wire().sent()).not.toHaveProperty("max_completion_tokens");
  });

  it("puts auto breakpoints on the last text parts, and strips them all when the model does not cache", async () => {
    const request: Request = {
      messages: [
        { role: "system", content: "Rules." },
        {
          role: "user",
          content: [
            { type: "text", text: "Look" },
            { type: "image_url", image_url: { url: "https://example.com/a.png" } },
          ],
        },
      ],
      prompt_cache: "auto",
    };
    await wire().client.completeChat(call("anthropic/claude-sonnet-4.5", request, true));
    expect(wire().sent().messages).toEqual([
      { role: "system", content: [{ type: "text", text: "Rules.", cache_control: EPHEMERAL }] },
      {
        role: "user",
        content: [
          { type: "text", text: "Look", cache_control: EPHEMERAL },
          { type: "image_url", image_url: { url: "https://example.com/a.png" } },
        ],
      },
    ]);
    await wire().client.completeChat(call("anthropic/claude-sonnet-4.5", request, false));
    expect(JSON.stringify(wire().sent())).not.toContain("cache_control");
  });

  it("asks reasoning as OpenRouter's reasoning object and returns its text, whole and streamed", async () => {
    openrouter.setChatReply({ content: "Take the train.", reasoning: "Trains are faster here." });
    const budget: Request = {
      messages: [{ role: "user", content: "How do I get there?" }],
      thinking: { type: "enabled", budget_tokens: 2_048 },
    };
    const outcome = await wire().client.completeChat(call("anthropic/claude-sonnet-4.5", budget));
    expect(wire().sent().reasoning).toEqual({ max_tokens: 2_048 });
    expect(outcome).toMatchObject({ content: "Take the train.", reasoning: "Trains are faster here." });
    expect(outcome.usage?.reasoningTokens).toBe(4);
    expect(outcome.warnings).toEqual([]);

    const { content, reasoning, end } = await streamed(wire().client, "openai/gpt-5-mini", {
      ...budget,
      thinking: undefined,
      reasoning_effort: "medium",
    });
    expect(wire().sent().reasoning).toEqual({ effort: "medium" });
    expect(wire().sent()).not.toHaveProperty("reasoning_effort");
    expect([content, reasoning]).toEqual(["Take the train.", "Trains are faster here."]);
    expect(end.usage?.reasoningTokens).toBe(4);
    expect(end.providerCostUsd).toBeGreaterThan(0);

    await wire().client.completeChat(
      call("openai/gpt-5-mini", { ...budget, thinking: { type: "disabled" } }),
    );
    expect(wire().sent().reasoning).toEqual({ effort: "none" });
  });

  it("merges the request's provider preferences over the configured ones", async () => {
    await wire().client.completeChat(
      call("anthropic/claude-sonnet-4.5", {
        messages: [{ role: "user", content: "Hi" }],
        provider_preferences: { order: ["amazon-bedrock"], sort: "price" },
      }),
    );
    expect(wire().sent().provider).toEqual({
      order: ["amazon-bedrock"],
      allow_fallbacks: false,
      sort: "price",
    });
  });

  it("reports cache writes then reads at a breakpoint, and the cost, streamed and not", async () => {
    const request: Request = {
      messages: [
        { role: "system", content: LONG_SYSTEM, cache_control: EPHEMERAL },
        { role: "user", content: "What is the leave policy?" },
      ],
    };
    const first = await wire().client.completeChat(call("anthropic/claude-sonnet-4.5", request, true));
    expect(first.usage?.cacheWriteTokens).toBeGreaterThanOrEqual(1_024);
    expect(first.providerCostUsd).toBeGreaterThan(0);
    const { end } = await streamed(wire().client, "anthropic/claude-sonnet-4.5", request, true);
    expect(end.usage?.cacheReadTokens).toBe(first.usage?.cacheWriteTokens);
    expect(end.usage?.cacheWriteTokens).toBeUndefined();
    // Reads are cheaper than writes: the cost OpenRouter reports is carried through the stream.
    expect(end.providerCostUsd).toBeLessThan(first.providerCostUsd!);
  });
});
