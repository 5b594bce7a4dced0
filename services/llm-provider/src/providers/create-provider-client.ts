import type { ProviderType } from "@llm-provider/contracts";
import type { ProviderSpec } from "../domain/catalog.js";
import { createAnthropicClient } from "./anthropic/anthropic-client.js";
import { createOllamaClient } from "./ollama/ollama-client.js";
import { createAzureOpenAIClient } from "./openai/azure-openai-client.js";
import { createOpenAIClient } from "./openai/openai-client.js";
import type { ProviderClient } from "../ports/provider-client.js";

export interface ProviderClientDeps {
  apiKey: string | undefined;
  fetch: typeof fetch;
}

/** The wire protocols this version speaks. */
export type Wire = "openai" | "anthropic" | "ollama";

/**
 * The one list of which provider types have a wire. OpenRouter, LiteLLM proxy, Azure OpenAI and
 * other OpenAI-compatible servers speak the OpenAI wire; they differ only in configuration. A type
 * added to the contract fails typecheck here until it is given a wire, or `undefined` (this version
 * cannot call it yet: it is reported unavailable).
 */
export function wireOf(providerType: ProviderType): Wire | undefined {
  switch (providerType) {
    case "openai":
    case "openrouter":
    case "litellm":
    case "openai_compatible":
    case "azure_openai":
      return "openai";
    case "anthropic":
      return "anthropic";
    case "ollama":
      return "ollama";
    default:
      return unlistedWire(providerType);
  }
}

/** Unreachable while the switches above are exhaustive: a missing case fails typecheck here. */
function unlistedWire(value: never): never {
  throw new Error(`${String(value)} is not in the wire list`);
}

/** Whether this version has a wire for the provider type. */
export function hasWire(providerType: ProviderType): boolean {
  return wireOf(providerType) !== undefined;
}

/** The client for a provider on its type's wire; `undefined` when the type has none yet. */
export function createProviderClient(
  provider: ProviderSpec,
  deps: ProviderClientDeps,
): ProviderClient | undefined {
  const options = { provider, apiKey: deps.apiKey, fetch: deps.fetch };
  const wire = wireOf(provider.provider_type);
  switch (wire) {
    case "openai":
      return createOpenAIWireClient(options);
    case "anthropic":
      return createAnthropicClient(options);
    case "ollama":
      return createOllamaClient(options);
    case undefined:
      return undefined;
    default:
      return unlistedWire(wire);
  }
}

/**
 * The OpenAI wire's presets that need their own client: Azure's URL scheme and key header. The
 * other flavours (OpenRouter's reasoning object and routing preferences, OpenAI's own fields) are
 * the wire's, chosen by provider type.
 */
function createOpenAIWireClient(options: { provider: ProviderSpec } & ProviderClientDeps): ProviderClient {
  if (options.provider.provider_type === "azure_openai") return createAzureOpenAIClient(options);
  return createOpenAIClient(options);
}
