import OpenAI from "openai";
import type { ProviderSpec } from "../../domain/catalog.js";
import { UpstreamError } from "../../domain/failure.js";
import type { ChatCall, ChatOutcome, ProviderClient } from "../port.js";
import { classifyOpenAIError } from "./classify-openai-error.js";
import { convertOpenAIChatResponse } from "./convert-openai-chat-response.js";
import { convertToOpenAIChatRequest } from "./convert-to-openai-chat-request.js";

export interface OpenAIClientOptions {
  provider: ProviderSpec;
  apiKey: string | undefined;
  fetch: typeof fetch;
}

/**
 * The OpenAI wire through the official SDK: OpenAI itself and every OpenAI-compatible service.
 * The SDK's own retries and timeout are off; routing owns both and aborts through `signal`.
 */
export function createOpenAIClient({ provider, apiKey, fetch }: OpenAIClientOptions): ProviderClient {
  const sdk = new OpenAI({
    // The SDK insists on a key; keyless servers (Ollama, vLLM) ignore the header.
    apiKey: apiKey ?? "not-needed",
    baseURL: provider.endpoint,
    maxRetries: 0,
    timeout: 24 * 60 * 60 * 1000,
    fetch,
    defaultHeaders: provider.headers,
  });

  return {
    providerId: provider.id,
    async completeChat(call: ChatCall): Promise<ChatOutcome> {
      const body = convertToOpenAIChatRequest(call.upstreamModel, call.request);
      let response: unknown;
      try {
        response = await sdk.chat.completions.create(body, { signal: call.signal });
      } catch (error) {
        throw toUpstreamError(error, apiKey);
      }
      return convertOpenAIChatResponse(response);
    },
  };
}

function toUpstreamError(error: unknown, apiKey: string | undefined): unknown {
  const classified = classifyOpenAIError(error, Date.now());
  if (classified === undefined) return error;
  if (apiKey !== undefined && apiKey.length >= 8 && classified.message.includes(apiKey)) {
    // The SDK error (the cause) quotes the key too, so it is dropped rather than kept.
    return new UpstreamError(classified.failure, classified.message.replaceAll(apiKey, "[redacted]"), {
      ...(classified.status !== undefined ? { status: classified.status } : {}),
      ...(classified.retryAfterMs !== undefined ? { retryAfterMs: classified.retryAfterMs } : {}),
      ...(classified.providerCode !== undefined ? { providerCode: classified.providerCode } : {}),
    });
  }
  return classified;
}
