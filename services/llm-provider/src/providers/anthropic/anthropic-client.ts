import Anthropic from "@anthropic-ai/sdk";
import { LlmProviderError } from "@llm-provider/contracts";
import type { ProviderSpec } from "../../domain/catalog.js";
import type {
  ChatCall,
  ChatOutcome,
  ChatStreamPart,
  EmbeddingOutcome,
  ProviderClient,
} from "../../ports/provider-client.js";
import { expectEventStream } from "../expect-event-stream.js";
import { redactApiKey } from "../redact-api-key.js";
import { classifyAnthropicError } from "./classify-anthropic-error.js";
import { convertAnthropicResponse } from "./convert-anthropic-response.js";
import { convertAnthropicStream } from "./convert-anthropic-stream.js";
import { convertToAnthropicRequest } from "./convert-to-anthropic-request.js";

export interface AnthropicClientOptions {
  provider: ProviderSpec;
  apiKey: string | undefined;
  fetch: typeof fetch;
}

/**
 * The Anthropic Messages wire through the official SDK. Its retries are off and its timeout is
 * far away: routing owns both and aborts through the attempt's `signal`.
 */
export function createAnthropicClient({ provider, apiKey, fetch }: AnthropicClientOptions): ProviderClient {
  const sdk = new Anthropic({
    // Passed explicitly so the SDK never looks for credentials in the environment or on disk;
    // keyless Anthropic-compatible proxies ignore the placeholder.
    apiKey: apiKey ?? "not-needed",
    baseURL: provider.endpoint,
    maxRetries: 0,
    // An explicit timeout also stops the SDK from refusing large non-streaming max_tokens.
    timeout: 24 * 60 * 60 * 1000,
    fetch,
    defaultHeaders: provider.headers,
    // The service's own GenAI spans cover every wire; the SDK's would duplicate them for one.
    openTelemetry: false,
    // Its logger writes to the console, past the service's JSON log.
    logLevel: "off",
  });

  return {
    providerId: provider.id,
    async completeChat(call: ChatCall): Promise<ChatOutcome> {
      const { body, warnings } = convertToAnthropicRequest(
        call.upstreamModel,
        call.request,
        call.modelMaxTokens,
        call.promptCaching === true,
      );
      let response: unknown;
      try {
        response = await sdk.messages.create(body, { signal: call.signal });
      } catch (error) {
        const classified = classifyAnthropicError(error, Date.now());
        throw classified === undefined ? error : redactApiKey(classified, apiKey);
      }
      const legacyFunctionCall = call.request.functions !== undefined && call.request.tools === undefined;
      const outcome = convertAnthropicResponse(response, legacyFunctionCall);
      return { ...outcome, warnings: [...warnings, ...outcome.warnings] };
    },
    async *streamChat(call: ChatCall): AsyncGenerator<ChatStreamPart> {
      const { body, warnings } = convertToAnthropicRequest(
        call.upstreamModel,
        call.request,
        call.modelMaxTokens,
        call.promptCaching === true,
      );
      let events: AsyncIterable<unknown>;
      try {
        const { data, response } = await sdk.messages
          .create({ ...body, stream: true }, { signal: call.signal })
          .withResponse();
        expectEventStream(response);
        events = data;
      } catch (error) {
        const classified = classifyAnthropicError(error, Date.now());
        throw classified === undefined ? error : redactApiKey(classified, apiKey);
      }
      const legacyFunctionCall = call.request.functions !== undefined && call.request.tools === undefined;
      for await (const part of convertAnthropicStream(events, legacyFunctionCall)) {
        yield part.type === "end"
          ? { type: "end", end: { ...part.end, warnings: [...warnings, ...part.end.warnings] } }
          : part;
      }
    },
    generateEmbeddings(): Promise<EmbeddingOutcome> {
      // A typed refusal rather than a missing method: a model misconfigured as an embedding
      // model on Anthropic tells the caller why.
      return Promise.reject(
        new LlmProviderError("unsupported", `provider '${provider.id}' (Anthropic) has no embeddings API`),
      );
    },
  };
}
