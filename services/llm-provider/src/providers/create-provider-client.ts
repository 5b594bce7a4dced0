import type { ProviderSpec } from "../domain/catalog.js";
import { createOpenAIClient } from "./openai/openai-client.js";
import type { ProviderClient } from "./port.js";

export interface ProviderClientDeps {
  apiKey: string | undefined;
  fetch: typeof fetch;
}

/**
 * Picks the wire for a provider type. OpenRouter, LiteLLM proxy and other OpenAI-compatible
 * servers speak the OpenAI wire; they differ only in configuration.
 */
/** Whether this version has a wire for the provider type (others are reported unavailable). */
export function hasWire(providerType: ProviderSpec["provider_type"]): boolean {
  return providerType !== "anthropic" && providerType !== "ollama" && providerType !== "azure_openai";
}

export function createProviderClient(
  provider: ProviderSpec,
  deps: ProviderClientDeps,
): ProviderClient | undefined {
  switch (provider.provider_type) {
    case "openai":
    case "openrouter":
    case "litellm":
    case "openai_compatible":
      return createOpenAIClient({ provider, apiKey: deps.apiKey, fetch: deps.fetch });
    case "anthropic":
    case "ollama":
    case "azure_openai":
      // Their own wires are not built yet: the provider is reported unavailable, never faked.
      return undefined;
  }
}
