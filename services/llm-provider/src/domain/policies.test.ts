import { describe, expect, it } from "vitest";
import {
  checkEmbeddingInputNonEmpty,
  checkGatewayBypassOnlyInDev,
  checkMessagesNonEmpty,
  checkModelHasPositiveMaxTokens,
  checkProviderHasName,
} from "./policies.js";

describe("POL-LLM-001 ProviderHasName", () => {
  it("passes a named provider and names the field of an unnamed or blank one", () => {
    expect(checkProviderHasName({ id: "openai", name: "OpenAI" }, "providers[0]")).toBeUndefined();
    expect(checkProviderHasName({ id: "openai" }, "providers[2]")).toEqual({
      policy: "POL-LLM-001",
      field: "providers[2].name",
      message: "provider 'openai' must have a name",
    });
    expect(checkProviderHasName({ id: "x", name: "   " }, "providers[0]")?.policy).toBe("POL-LLM-001");
  });
});

describe("POL-LLM-002 ModelHasPositiveMaxTokens", () => {
  it.each([0, -1, 1.5])("refuses max_tokens %s", (maxTokens) => {
    const violation = checkModelHasPositiveMaxTokens({ model_name: "m", max_tokens: maxTokens }, "models[1]");
    expect(violation).toMatchObject({ policy: "POL-LLM-002", field: "models[1].max_tokens" });
  });
  it("passes a positive integer", () => {
    expect(checkModelHasPositiveMaxTokens({ model_name: "m", max_tokens: 1 }, "models[0]")).toBeUndefined();
  });
});

describe("POL-LLM-003 MessagesNonEmpty", () => {
  it("refuses an empty list", () => {
    expect(checkMessagesNonEmpty([])).toEqual({
      policy: "POL-LLM-003",
      field: "messages",
      message: "messages must not be empty",
    });
  });
  it("names the first message without content", () => {
    const violation = checkMessagesNonEmpty([
      { role: "system", content: "be brief" },
      { role: "user", content: "  " },
    ]);
    expect(violation).toMatchObject({ policy: "POL-LLM-003", field: "messages[1].content" });
  });
  it("accepts an assistant turn that only calls a function or tools", () => {
    expect(
      checkMessagesNonEmpty([
        { role: "user", content: "weather?" },
        { role: "assistant", content: null, function_call: { name: "weather", arguments: "{}" } },
        {
          role: "assistant",
          tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: "{}" } }],
        },
      ]),
    ).toBeUndefined();
  });
});

describe("POL-LLM-004 EmbeddingInputNonEmpty", () => {
  it("refuses an empty string, an empty batch and an empty item", () => {
    expect(checkEmbeddingInputNonEmpty("")?.field).toBe("input");
    expect(checkEmbeddingInputNonEmpty([])?.field).toBe("input");
    expect(checkEmbeddingInputNonEmpty(["a", " ", "c"])).toMatchObject({
      policy: "POL-LLM-004",
      field: "input[1]",
    });
  });
  it("passes text", () => {
    expect(checkEmbeddingInputNonEmpty(["a", "b"])).toBeUndefined();
  });
});

describe("POL-LLM-005 GatewayBypassOnlyInDev", () => {
  it("allows bypass only in development", () => {
    expect(checkGatewayBypassOnlyInDev("development", true)).toBeUndefined();
    expect(checkGatewayBypassOnlyInDev("production", false)).toBeUndefined();
    expect(checkGatewayBypassOnlyInDev("production", true)).toMatchObject({
      policy: "POL-LLM-005",
      field: "policy_gateway.bypass",
    });
  });
});
