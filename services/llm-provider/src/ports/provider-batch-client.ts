import type { UpstreamError } from "../domain/failure.js";
import type { ChatCall, ChatOutcome, EmbeddingOutcome } from "./provider-client.js";

/**
 * A provider's batch API (OpenAI Batch, Anthropic Message Batches): many requests submitted at
 * once, answered within hours at a lower price. One implementation per wire that has one.
 * Failures of the calls themselves are thrown as `UpstreamError` (classified); a request of the
 * batch that failed comes back as an item error, not a throw.
 */
export interface ProviderBatchClient {
  readonly providerId: string;
  /** Absent on a wire without an embeddings batch endpoint (Anthropic). */
  submitEmbeddings?(submission: EmbeddingBatchSubmission): Promise<string>;
  submitChats(submission: ChatBatchSubmission): Promise<string>;
  /** Where the batch is; `ended` once the provider will do no more of it. */
  check(batchId: string, signal: AbortSignal): Promise<ProviderBatchState>;
  /** Results of an ended batch, one per request the provider reports on (any order). */
  readEmbeddingResults?(batchId: string, signal: AbortSignal): Promise<BatchItemResult<EmbeddingOutcome>[]>;
  readChatResults(batchId: string, signal: AbortSignal): Promise<BatchItemResult<ChatOutcome>[]>;
  /** Asks the provider to stop the batch; requests already answered keep their results. */
  cancel(batchId: string, signal: AbortSignal): Promise<void>;
}

/** Every request embeds one text with the same model; `customId` names it in the results. */
export interface EmbeddingBatchSubmission {
  upstreamModel: string;
  dimensions?: number | undefined;
  items: readonly { customId: string; input: string }[];
  signal: AbortSignal;
}

export interface ChatBatchSubmission {
  items: readonly { customId: string; call: Omit<ChatCall, "signal" | "trace"> }[];
  signal: AbortSignal;
}

/** How a batch ended: `completed` even when some of its requests failed (they are item errors). */
export type ProviderBatchOutcome = "completed" | "failed" | "expired" | "cancelled";

export type ProviderBatchState =
  | { status: "pending"; providerStatus: string }
  | {
      status: "ended";
      outcome: ProviderBatchOutcome;
      providerStatus: string;
      /** Why a `failed` batch failed (the provider's validation errors), without secrets. */
      failure?: string | undefined;
    };

/** One request's answer, or its own classified failure (an expired request: `timeout`). */
export type BatchItemResult<T> =
  { customId: string; outcome: T } | { customId: string; error: UpstreamError };
