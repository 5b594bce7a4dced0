import type { ProviderSpec } from "../domain/catalog.js";
import type { ProviderBatchClient } from "../ports/provider-batch-client.js";
import { createAnthropicBatchClient } from "./anthropic/anthropic-batch-client.js";
import type { ProviderClientDeps } from "./create-provider-client.js";
import { createOpenAIBatchClient } from "./openai/openai-batch-client.js";

/**
 * The batch client of a provider; `undefined` when its type has no batch API here. OpenAI-compatible
 * services (OpenRouter, LiteLLM, Azure's batch deployments) share OpenAI's direct wire but not its
 * Batch API, so only OpenAI itself and Anthropic have one.
 */
export function createProviderBatchClient(
  provider: ProviderSpec,
  deps: ProviderClientDeps,
): ProviderBatchClient | undefined {
  const options = { provider, apiKey: deps.apiKey, fetch: deps.fetch };
  if (provider.provider_type === "openai") return createOpenAIBatchClient(options);
  if (provider.provider_type === "anthropic") return createAnthropicBatchClient(options);
  return undefined;
}
