import { ProviderTypeSchema } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import { hasWire, wireOf } from "./create-provider-client.js";

describe("wireOf", () => {
  it("gives every provider type of the contract a wire", () => {
    for (const providerType of ProviderTypeSchema.options) expect(hasWire(providerType)).toBe(true);
  });

  it("puts the OpenAI-compatible presets on the OpenAI wire", () => {
    const openAIWire = ProviderTypeSchema.options.filter((type) => wireOf(type) === "openai");
    expect(openAIWire.sort()).toEqual([
      "azure_openai",
      "litellm",
      "openai",
      "openai_compatible",
      "openrouter",
    ]);
    expect(wireOf("anthropic")).toBe("anthropic");
    expect(wireOf("ollama")).toBe("ollama");
  });
});
