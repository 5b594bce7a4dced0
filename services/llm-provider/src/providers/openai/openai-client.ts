import OpenAI from "openai";
import type { ProviderSpec } from "../../domain/catalog.js";
import type {
  ChatCall,
  ChatOutcome,
  ChatStreamPart,
  EmbeddingCall,
  EmbeddingOutcome,
  ProviderClient,
} from "../../ports/provider-client.js";
import { expectEventStream } from "../expect-event-stream.js";
import { redactApiKey } from "../redact-api-key.js";
import { classifyOpenAIError } from "./classify-openai-error.js";
import { convertOpenAIChatResponse } from "./convert-openai-chat-response.js";
import { convertOpenAIChatStream } from "./convert-openai-chat-stream.js";
import { convertOpenAIEmbeddingResponse } from "./convert-openai-embedding-response.js";
import { convertToOpenAIChatRequest } from "./convert-to-openai-chat-request.js";
import { convertToOpenAIEmbeddingRequest } from "./convert-to-openai-embedding-request.js";
import { openAIFlavourOf } from "./openai-flavour.js";

export interface OpenAIClientOptions {
  provider: ProviderSpec;
  apiKey: string | undefined;
  fetch: typeof fetch;
  /** A preconfigured SDK client, for presets with their own URL scheme and auth (Azure OpenAI). */
  sdk?: OpenAI;
}

/**
 * The OpenAI wire through the official SDK: OpenAI itself and every OpenAI-compatible service.
 * The SDK's own retries and timeout are off; routing owns both and aborts through `signal`.
 */
export function createOpenAIClient(options: OpenAIClientOptions): ProviderClient {
  const { provider, apiKey, fetch } = options;
  const context = {
    flavour: openAIFlavourOf(provider.provider_type),
    // OpenRouter's provider routing, sent with every request under the request's own preferences.
    providerPreferences: provider.openrouter?.provider,
  };
  const sdk =
    options.sdk ??
    new OpenAI({
      // The SDK insists on a key; keyless servers (Ollama, vLLM) ignore the header.
      apiKey: apiKey ?? "not-needed",
      baseURL: provider.endpoint,
      maxRetries: 0,
      timeout: 24 * 60 * 60 * 1000,
      fetch,
      defaultHeaders: provider.headers,
      // The SDK would print unparsable stream lines to the console; failures reach us classified.
      logLevel: "off",
    });

  return {
    providerId: provider.id,
    async completeChat(call: ChatCall): Promise<ChatOutcome> {
      const { body, warnings } = convertToOpenAIChatRequest(call, context);
      let response: unknown;
      try {
        response = await sdk.chat.completions.create(body, { signal: call.signal });
      } catch (error) {
        throw toUpstreamError(error, apiKey);
      }
      const outcome = convertOpenAIChatResponse(response);
      return { ...outcome, warnings: [...warnings, ...outcome.warnings] };
    },
    async *streamChat(call: ChatCall): AsyncGenerator<ChatStreamPart> {
      const { body, warnings } = convertToOpenAIChatRequest(call, context);
      const streamed = {
        ...body,
        stream: true as const,
        // OpenAI sends the usage (cache and reasoning counts; OpenRouter: the cost) in a last chunk.
        stream_options: { include_usage: true },
      };
      let chunks: AsyncIterable<unknown>;
      try {
        const { data, response } = await sdk.chat.completions
          .create(streamed, { signal: call.signal })
          .withResponse();
        expectEventStream(response);
        chunks = data;
      } catch (error) {
        throw toUpstreamError(error, apiKey);
      }
      for await (const part of convertOpenAIChatStream(chunks)) {
        yield part.type === "end"
          ? { type: "end", end: { ...part.end, warnings: [...warnings, ...part.end.warnings] } }
          : part;
      }
    },
    async generateEmbeddings(call: EmbeddingCall): Promise<EmbeddingOutcome> {
      let response: unknown;
      try {
        // An explicit encoding_format makes the SDK hand back the base64 untouched.
        response = await sdk.embeddings.create(convertToOpenAIEmbeddingRequest(call), {
          signal: call.signal,
        });
      } catch (error) {
        throw toUpstreamError(error, apiKey);
      }
      return convertOpenAIEmbeddingResponse(response, call.inputs.length);
    },
  };
}

function toUpstreamError(error: unknown, apiKey: string | undefined): unknown {
  const classified = classifyOpenAIError(error, Date.now());
  return classified === undefined ? error : redactApiKey(classified, apiKey);
}
