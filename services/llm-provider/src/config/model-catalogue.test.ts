import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./load-config.js";
import type { ConfigInput } from "./schema.js";

const providers: ConfigInput["providers"] = [
  {
    id: "openai",
    name: "OpenAI",
    provider_type: "openai",
    endpoint: "https://api.openai.com/v1",
    api_key_ref: "env:OPENAI_API_KEY",
  },
  {
    id: "proxy",
    name: "LiteLLM",
    provider_type: "litellm",
    endpoint: "http://litellm:4000/v1",
    api_key_ref: "env:LITELLM_KEY",
  },
];

const configWith = (models: unknown[]) =>
  ({ environment: "development", policy_gateway: { bypass: true }, providers, models }) as ConfigInput;

function refusal(models: unknown[]): unknown {
  try {
    parseConfig(configWith(models), "test.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("the model catalogue", () => {
  it("fills an entry that names only the model: limits, prices and capabilities from models.dev", () => {
    const config = parseConfig(
      configWith([{ model_name: "gpt-4o-mini", provider_id: "openai", catalog: true }]),
      "test.yaml",
    );
    expect(config.models[0]).toMatchObject({
      context_window: 128_000,
      max_tokens: 16_384,
      cost: { input_per_million: 0.15, output_per_million: 0.6, cache_read_per_million: 0.08 },
      features: { chat: true, function_calling: true, vision: true, reasoning: false },
    });
  });

  it("lets the entry's own values win, field by field", () => {
    const config = parseConfig(
      configWith([
        {
          model_name: "mini",
          upstream_model: "gpt-4o-mini",
          provider_id: "openai",
          catalog: true,
          max_tokens: 1_000,
          cost: { input_per_million: 0.1 },
          features: { vision: false },
        },
      ]),
      "test.yaml",
    );
    expect(config.models[0]).toMatchObject({
      context_window: 128_000,
      max_tokens: 1_000,
      cost: { input_per_million: 0.1, output_per_million: 0.6 },
      features: { vision: false, function_calling: true },
    });
  });

  it('takes "<provider>/<model>" for a proxy whose type names no catalogue', () => {
    const config = parseConfig(
      configWith([
        { model_name: "sonnet", provider_id: "proxy", catalog: "anthropic/claude-sonnet-4-20250514" },
      ]),
      "test.yaml",
    );
    expect(config.models[0]).toMatchObject({
      context_window: 200_000,
      cost: {
        input_per_million: 3,
        output_per_million: 15,
        cache_read_per_million: 0.3,
        cache_write_per_million: 3.75,
      },
    });
  });

  it("refuses a model the catalogue does not know, and a proxy entry that does not say where to look", () => {
    expect(refusal([{ model_name: "gpt-9", provider_id: "openai", catalog: true }])).toEqual([
      {
        field: "models[0].catalog",
        message: expect.stringContaining("has no 'gpt-9' for 'openai'") as string,
      },
    ]);
    expect(refusal([{ model_name: "x", provider_id: "proxy", catalog: true }])).toEqual([
      { field: "models[0].catalog", message: expect.stringContaining('"<provider>/<model>"') as string },
    ]);
  });

  it("leaves an entry without catalog as it was: what it leaves out is still refused", () => {
    expect(refusal([{ model_name: "gpt-4o-mini", provider_id: "openai" }])).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: "models[0].context_window" })]),
    );
  });
});
