import type { ChatMessage, CompleteChat, ProviderType } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import { DEFAULT_MODEL_FEATURES } from "./catalog.js";
import type { ModelFeatures, Target } from "./catalog.js";
import { findChatMismatch, withoutIdleReasoningSettings } from "./chat-requirements.js";

const PNG = "data:image/png;base64,iVBORw0KGgo=";
const PDF = "data:application/pdf;base64,JVBERi0xLjQK";
const TEXT_FILE = "data:text/plain;base64,aGVsbG8=";

const TEXT_ONLY: ModelFeatures = { ...DEFAULT_MODEL_FEATURES, function_calling: true, streaming: true };
const EVERYTHING: ModelFeatures = { ...TEXT_ONLY, vision: true, files: true, reasoning: true };

function target(providerType: ProviderType, features: ModelFeatures = EVERYTHING): Target {
  return {
    model: {
      model_name: "m",
      provider_id: "p",
      context_window: 8_192,
      max_tokens: 4_096,
      cost: { input_per_million: 0, output_per_million: 0 },
      features,
    },
    provider: { provider_type: providerType } as Target["provider"],
  };
}

function ask(content: ChatMessage["content"], extra: Partial<CompleteChat> = {}): CompleteChat {
  return { model: "m", messages: [{ role: "user", content }], ...extra };
}

const image = (url: string) => ({ type: "image_url" as const, image_url: { url } });
const file = (file: { file_data?: string; file_url?: string }) => ({ type: "file" as const, file });
const text = { type: "text" as const, text: "Look:" };

describe("findChatMismatch: content parts", () => {
  it("refuses an image for a model without vision, naming the part", () => {
    expect(findChatMismatch(target("openai", TEXT_ONLY), ask([text, image(PNG)]))).toEqual({
      kind: "unsupported_content",
      field: "messages[0].content[1]",
      message: "model 'm' does not take images (no vision capability)",
    });
  });

  it("refuses a file for a model without the files capability", () => {
    const mismatch = findChatMismatch(
      target("anthropic", { ...EVERYTHING, files: false }),
      ask([file({ file_data: PDF })]),
    );
    expect(mismatch).toMatchObject({
      kind: "unsupported_content",
      message: "model 'm' does not take files (no files capability)",
    });
  });

  it.each([
    [
      "ollama",
      image("https://example.com/cat.png"),
      "takes images only as base64 data URLs (ollama fetches no URL)",
    ],
    ["ollama", file({ file_data: PDF }), "cannot read PDF files (ollama API)"],
    [
      "openai",
      file({ file_url: "https://example.com/a.pdf" }),
      "takes files only as file_data (openai fetches no URL): send the file base64-encoded",
    ],
  ] as const)("refuses what the %s wire cannot carry: %j", (wire, part, problem) => {
    expect(findChatMismatch(target(wire), ask([part]))).toEqual({
      kind: "unsupported_content",
      field: "messages[0].content[0]",
      message: `model 'm' ${problem}`,
    });
  });

  it.each([
    [
      "anthropic",
      [
        image("https://example.com/cat.png"),
        file({ file_url: "https://example.com/a.pdf" }),
        file({ file_data: PDF }),
      ],
    ],
    ["openrouter", [image("https://example.com/cat.png"), file({ file_url: "https://example.com/a.pdf" })]],
    [
      "openai",
      [
        image("https://example.com/cat.png"),
        image(PNG),
        file({ file_data: PDF }),
        file({ file_data: TEXT_FILE }),
      ],
    ],
    ["ollama", [image(PNG), file({ file_data: TEXT_FILE })]],
  ] as const)("lets through what the %s wire carries", (wire, parts) => {
    expect(findChatMismatch(target(wire), ask([...parts]))).toBeUndefined();
  });

  it("takes media in tool results only where the wire does (Anthropic)", () => {
    const request: CompleteChat = {
      model: "m",
      messages: [
        { role: "user", content: "Screenshot the page" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c1", type: "function", function: { name: "shot", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "c1", content: [image(PNG)] },
      ],
    };
    expect(findChatMismatch(target("anthropic"), request)).toBeUndefined();
    expect(findChatMismatch(target("openai"), request)).toEqual({
      kind: "unsupported_content",
      field: "messages[2].content[0]",
      message: "model 'm' takes only text in tool results (openai API), got an image",
    });
  });
});

describe("findChatMismatch: reasoning and output caps", () => {
  it("refuses reasoning for a model that does not reason, but not effort none", () => {
    expect(findChatMismatch(target("openai", TEXT_ONLY), ask("Hi", { reasoning_effort: "high" }))).toEqual({
      kind: "unsupported",
      field: "reasoning_effort",
      message: "model 'm' does not reason (no reasoning capability)",
    });
    expect(
      findChatMismatch(target("openai", TEXT_ONLY), ask("Hi", { reasoning_effort: "none" })),
    ).toBeUndefined();
  });

  it("checks max_completion_tokens against the model's limit and a thinking budget against the cap", () => {
    expect(findChatMismatch(target("openai"), ask("Hi", { max_completion_tokens: 5_000 }))).toMatchObject({
      kind: "invalid_request",
      field: "max_completion_tokens",
    });
    expect(
      findChatMismatch(
        target("anthropic"),
        ask("Hi", { max_tokens: 2_000, thinking: { type: "enabled", budget_tokens: 2_000 } }),
      ),
    ).toEqual({
      kind: "invalid_request",
      field: "thinking.budget_tokens",
      message: "thinking.budget_tokens 2000 must be less than the output cap of 2000 tokens (max_tokens)",
    });
  });

  it("refuses a forced tool call with thinking on Anthropic only", () => {
    const request = ask("Weather?", {
      reasoning_effort: "low",
      tools: [{ type: "function", function: { name: "get_weather" } }],
      tool_choice: "required",
    });
    expect(findChatMismatch(target("anthropic"), request)).toMatchObject({
      kind: "unsupported",
      field: "tool_choice",
    });
    expect(findChatMismatch(target("anthropic"), { ...request, tool_choice: "auto" })).toBeUndefined();
    expect(findChatMismatch(target("openai"), request)).toBeUndefined();
  });

  it("refuses json_schema for a model without structured output", () => {
    const request = ask("Hi", { response_format: { type: "json_schema", json_schema: { name: "x" } } });
    expect(
      findChatMismatch(target("ollama", { ...TEXT_ONLY, structured_output: false }), request),
    ).toMatchObject({
      kind: "unsupported",
      field: "response_format",
    });
  });
});

describe("withoutIdleReasoningSettings", () => {
  it("leaves reasoning-off settings out for a model that does not reason, and keeps them for one that does", () => {
    const request = ask("Hi", { reasoning_effort: "none" });
    expect(withoutIdleReasoningSettings(request, target("openai", TEXT_ONLY).model)).toEqual(ask("Hi"));
    expect(withoutIdleReasoningSettings(request, target("openai", EVERYTHING).model)).toBe(request);
    const disabled = ask("Hi", { thinking: { type: "disabled" } });
    expect(withoutIdleReasoningSettings(disabled, target("anthropic", TEXT_ONLY).model)).toEqual(ask("Hi"));
  });
});
