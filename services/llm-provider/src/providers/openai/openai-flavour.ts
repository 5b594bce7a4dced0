import type { ProviderType } from "@llm-provider/contracts";

/**
 * What sets one OpenAI-wire service apart from another in a request body. OpenAI and Azure OpenAI
 * speak today's API (developer role, max_completion_tokens, which GPT-5 and the o-series require);
 * OpenRouter has its own reasoning object, provider routing, PDF URLs and cache breakpoints; LiteLLM
 * and other OpenAI-compatible servers get the long-standing subset every one of them takes.
 */
export interface OpenAIFlavour {
  /** For warnings: the provider type. */
  name: ProviderType;
  /** OpenAI's own API (OpenAI, Azure OpenAI). */
  native: boolean;
  openRouter: boolean;
}

export function openAIFlavourOf(providerType: ProviderType): OpenAIFlavour {
  return {
    name: providerType,
    native: providerType === "openai" || providerType === "azure_openai",
    openRouter: providerType === "openrouter",
  };
}
