import Anthropic from "@anthropic-ai/sdk";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import type { BatchItemResult, ProviderBatchState } from "../../ports/provider-batch-client.js";
import type { ChatOutcome } from "../../ports/provider-client.js";
import { classifyAnthropicError } from "./classify-anthropic-error.js";
import { convertAnthropicResponse } from "./convert-anthropic-response.js";

/**
 * The HTTP status a direct call answers with each error type: an `errored` batch result carries
 * only the type, and is classified as the same failure of a direct call would be.
 */
const STATUS_BY_ERROR_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** One line of a Message Batch's results; `unknown` parts are checked where they are read. */
export interface AnthropicBatchResultLine {
  custom_id: string;
  result: { type: string; message?: unknown; error?: unknown };
}

/** One results line → the item's answer or its classified failure. */
export function convertAnthropicBatchResult(
  line: AnthropicBatchResultLine,
  now: number,
): BatchItemResult<ChatOutcome> {
  const customId = line.custom_id;
  switch (line.result.type) {
    case "succeeded":
      try {
        return { customId, outcome: convertAnthropicResponse(line.result.message, false) };
      } catch (error) {
        if (error instanceof UpstreamError) return { customId, error };
        throw error;
      }
    case "errored": {
      const body = line.result.error as { error?: { type?: unknown } } | undefined;
      const type = typeof body?.error?.type === "string" ? body.error.type : "api_error";
      const apiError = Anthropic.APIError.generate(
        STATUS_BY_ERROR_TYPE[type] ?? 500,
        body,
        undefined,
        new Headers(),
      );
      const error =
        classifyAnthropicError(apiError, now) ??
        new UpstreamError(FailureClass.serverError, `provider failed: ${type}`);
      return { customId, error };
    }
    case "expired":
      return {
        customId,
        error: new UpstreamError(FailureClass.timeout, "provider batch expired before the request ran", {
          providerCode: "expired",
        }),
      };
    default:
      // `canceled`, and result types added later: the request was not answered.
      return {
        customId,
        error: new UpstreamError(
          FailureClass.serverError,
          `provider batch did not answer the request: ${line.result.type}`,
          {
            providerCode: line.result.type,
          },
        ),
      };
  }
}

/** Anthropic's batch → pending or ended; an ended batch whose requests all expired is `expired`. */
export function mapAnthropicBatchStatus(
  batch: Pick<
    Anthropic.Messages.MessageBatch,
    "processing_status" | "cancel_initiated_at" | "request_counts"
  >,
): ProviderBatchState {
  const providerStatus = batch.processing_status;
  if (batch.processing_status !== "ended") return { status: "pending", providerStatus };
  if (batch.cancel_initiated_at !== null) return { status: "ended", outcome: "cancelled", providerStatus };
  const counts = batch.request_counts;
  const allExpired = counts.expired > 0 && counts.succeeded + counts.errored + counts.canceled === 0;
  return { status: "ended", outcome: allExpired ? "expired" : "completed", providerStatus };
}
