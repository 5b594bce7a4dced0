import Anthropic from "@anthropic-ai/sdk";
import type { ProviderSpec } from "../../domain/catalog.js";
import type { BatchItemResult, ProviderBatchClient } from "../../ports/provider-batch-client.js";
import type { ChatOutcome } from "../../ports/provider-client.js";
import { classifyBatchCalls } from "../classify-batch-call.js";
import { classifyAnthropicError } from "./classify-anthropic-error.js";
import { convertAnthropicBatchResult, mapAnthropicBatchStatus } from "./convert-anthropic-batch-results.js";
import { convertToAnthropicRequest } from "./convert-to-anthropic-request.js";

export interface AnthropicBatchClientOptions {
  provider: ProviderSpec;
  apiKey: string | undefined;
  fetch: typeof fetch;
}

/**
 * Anthropic's Message Batches through the official SDK: the requests sent in one create call,
 * polled, and the results JSONL read back by `custom_id`. Anthropic has no embeddings batch.
 */
export function createAnthropicBatchClient({
  provider,
  apiKey,
  fetch,
}: AnthropicBatchClientOptions): ProviderBatchClient {
  const sdk = new Anthropic({
    apiKey: apiKey ?? "not-needed",
    baseURL: provider.endpoint,
    maxRetries: 0,
    timeout: provider.config.timeout_ms,
    fetch,
    defaultHeaders: provider.headers,
    openTelemetry: false,
    logLevel: "off",
  });

  const guard = classifyBatchCalls(classifyAnthropicError, apiKey);

  return {
    providerId: provider.id,
    submitChats: ({ items, signal }) =>
      guard(async () => {
        const requests = items.map(({ customId, call }) => ({
          custom_id: customId,
          params: convertToAnthropicRequest(
            call.upstreamModel,
            call.request,
            call.modelMaxTokens,
            call.promptCaching === true,
          ).body,
        }));
        const batch = await sdk.messages.batches.create({ requests }, { signal });
        return batch.id;
      }),
    check: (batchId, signal) =>
      guard(async () =>
        mapAnthropicBatchStatus(await sdk.messages.batches.retrieve(batchId, {}, { signal })),
      ),
    readChatResults: (batchId, signal) =>
      guard(async () => {
        const results: BatchItemResult<ChatOutcome>[] = [];
        const now = Date.now();
        for await (const line of await sdk.messages.batches.results(batchId, {}, { signal })) {
          results.push(convertAnthropicBatchResult(line, now));
        }
        return results;
      }),
    cancel: (batchId, signal) =>
      guard(async () => {
        await sdk.messages.batches.cancel(batchId, {}, { signal });
      }),
  };
}
