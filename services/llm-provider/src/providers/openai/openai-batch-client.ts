import OpenAI, { toFile } from "openai";
import type { ProviderSpec } from "../../domain/catalog.js";
import type { ProviderBatchClient } from "../../ports/provider-batch-client.js";
import { classifyBatchCalls } from "../classify-batch-call.js";
import { classifyOpenAIError } from "./classify-openai-error.js";
import { convertOpenAIBatchResults } from "./convert-openai-batch-results.js";
import { convertOpenAIChatResponse } from "./convert-openai-chat-response.js";
import { convertOpenAIEmbeddingResponse } from "./convert-openai-embedding-response.js";
import {
  OPENAI_CHAT_URL,
  OPENAI_EMBEDDINGS_URL,
  convertToOpenAIChatBatchLines,
  convertToOpenAIEmbeddingBatchLines,
} from "./convert-to-openai-batch-lines.js";
import { mapOpenAIBatchStatus } from "./map-openai-batch-status.js";
import { openAIFlavourOf } from "./openai-flavour.js";

export interface OpenAIBatchClientOptions {
  provider: ProviderSpec;
  apiKey: string | undefined;
  fetch: typeof fetch;
}

/**
 * OpenAI's Batch API through the official SDK: the requests uploaded as a JSONL file (purpose
 * `batch`), a batch created on it with the 24 h window, polled, and its output and error files
 * read back by `custom_id`. Retries are off as for direct calls: the job poller tries again later.
 */
export function createOpenAIBatchClient({
  provider,
  apiKey,
  fetch,
}: OpenAIBatchClientOptions): ProviderBatchClient {
  const sdk = new OpenAI({
    apiKey: apiKey ?? "not-needed",
    baseURL: provider.endpoint,
    maxRetries: 0,
    timeout: provider.config.timeout_ms,
    fetch,
    defaultHeaders: provider.headers,
    logLevel: "off",
  });
  const context = { flavour: openAIFlavourOf(provider.provider_type) };

  async function submit(
    jsonl: string,
    endpoint: typeof OPENAI_EMBEDDINGS_URL | typeof OPENAI_CHAT_URL,
    signal: AbortSignal,
  ) {
    const file = await sdk.files.create(
      {
        file: await toFile(Buffer.from(jsonl, "utf8"), "batch.jsonl", { type: "application/jsonl" }),
        purpose: "batch",
      },
      { signal },
    );
    const batch = await sdk.batches.create(
      { input_file_id: file.id, endpoint, completion_window: "24h" },
      { signal },
    );
    return batch.id;
  }

  /** The output and error files' lines, concatenated (either file may be absent). */
  async function readResultLines(batchId: string, signal: AbortSignal): Promise<string> {
    const batch = await sdk.batches.retrieve(batchId, { signal });
    const texts: string[] = [];
    for (const fileId of [batch.output_file_id, batch.error_file_id]) {
      if (!fileId) continue;
      const response = await sdk.files.content(fileId, { signal });
      texts.push(await response.text());
    }
    return texts.join("\n");
  }

  const guard = classifyBatchCalls(classifyOpenAIError, apiKey);

  return {
    providerId: provider.id,
    submitEmbeddings: (submission) =>
      guard(() =>
        submit(convertToOpenAIEmbeddingBatchLines(submission), OPENAI_EMBEDDINGS_URL, submission.signal),
      ),
    submitChats: (submission) =>
      guard(() =>
        submit(convertToOpenAIChatBatchLines(submission, context), OPENAI_CHAT_URL, submission.signal),
      ),
    check: (batchId, signal) =>
      guard(async () => mapOpenAIBatchStatus(await sdk.batches.retrieve(batchId, { signal }))),
    readEmbeddingResults: (batchId, signal) =>
      guard(async () =>
        convertOpenAIBatchResults(
          await readResultLines(batchId, signal),
          (body) => convertOpenAIEmbeddingResponse(body, 1),
          Date.now(),
        ),
      ),
    readChatResults: (batchId, signal) =>
      guard(async () =>
        convertOpenAIBatchResults(
          await readResultLines(batchId, signal),
          convertOpenAIChatResponse,
          Date.now(),
        ),
      ),
    cancel: (batchId, signal) =>
      guard(async () => {
        await sdk.batches.cancel(batchId, { signal });
      }),
  };
}
