import { AzureOpenAI } from "openai";
import type { ProviderSpec } from "../../domain/catalog.js";
import type { ProviderClient } from "../../ports/provider-client.js";
import { createOpenAIClient } from "./openai-client.js";

export interface AzureOpenAIClientOptions {
  provider: ProviderSpec;
  apiKey: string | undefined;
  fetch: typeof fetch;
}

/**
 * Azure OpenAI: the OpenAI wire with Azure's URL scheme and auth, through the SDK's `AzureOpenAI`.
 * Calls go to `{endpoint}/openai/deployments/{upstream_model}/…?api-version=…` with an `api-key`
 * header, so a model's `upstream_model` is the deployment name.
 */
export function createAzureOpenAIClient({
  provider,
  apiKey,
  fetch,
}: AzureOpenAIClientOptions): ProviderClient {
  const sdk = new AzureOpenAI({
    // baseURL rather than `endpoint`: the SDK then reads no Azure or OpenAI variables from the environment.
    baseURL: `${provider.endpoint.replace(/\/+$/, "")}/openai`,
    // The schema requires both for azure_openai; the SDK refuses to start without them.
    apiKey: apiKey ?? "",
    apiVersion: provider.api_version ?? "",
    maxRetries: 0,
    timeout: 24 * 60 * 60 * 1000,
    fetch,
    defaultHeaders: provider.headers,
  });
  return createOpenAIClient({ provider, apiKey, fetch, sdk });
}
