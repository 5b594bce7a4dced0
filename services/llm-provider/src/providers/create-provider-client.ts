import type { ProviderType } from "@llm-provider/contracts";
import type { ProviderSpec } from "../domain/catalog.js";
import { createAnthropicClient } from "./anthropic/anthropic-client.js";
import { createOllamaClient } from "./ollama/ollama-client.js";
import { createAzureOpenAIClient } from "./openai/azure-openai-client.js";
import { createOpenAIClient } from "./openai/openai-client.js";
import type { ProviderClient } from "./port.js";

export interface ProviderClientDeps {
  apiKey: string | undefined;
  fetch: typeof fetch;
}

const WIRED_TYPES: ReadonlySet<ProviderType> = new Set([
  "openai",
  "openrouter",
  "litellm",
  "openai_compatible",
  "azure_openai",
  "anthropic",
  "ollama",
]);

/**
 * Whether this version has a wire for the provider type. Every type has one today; a type added
 * to the contract before its wire is reported unavailable.
 */
export function hasWire(providerType: ProviderType): boolean {
  return WIRED_TYPES.has(providerType);
}

/**
 * Picks the wire for a provider type. OpenRouter, LiteLLM proxy, Azure OpenAI and other
 * OpenAI-compatible servers speak the OpenAI wire; they differ only in configuration.
 */

export function createProviderClient(
  provider: ProviderSpec,
  deps: ProviderClientDeps,
): ProviderClient | undefined {
  switch (provider.provider_type) {
    case "openai":
    case "litellm":
    case "openai_compatible":
      return createOpenAIClient({ provider, apiKey: deps.apiKey, fetch: deps.fetch });
    case "openrouter": {
      // Provider-routing preferences travel in every request body as OpenRouter's `provider`.
      const preferences = provider.openrouter?.provider;
      const extraBody = preferences !== undefined ? { provider: preferences } : undefined;
      return createOpenAIClient({ provider, apiKey: deps.apiKey, fetch: deps.fetch, extraBody });
    }
    case "azure_openai":
      return createAzureOpenAIClient({ provider, apiKey: deps.apiKey, fetch: deps.fetch });
    case "anthropic":
      return createAnthropicClient({ provider, apiKey: deps.apiKey, fetch: deps.fetch });
    case "ollama":
      return createOllamaClient({ provider, apiKey: deps.apiKey, fetch: deps.fetch });
  }
}
