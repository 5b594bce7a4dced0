import type OpenAI from "openai";
import type { ProviderBatchState } from "../../ports/provider-batch-client.js";

/** OpenAI's batch status → pending or ended, with the reason a failed batch failed. */
export function mapOpenAIBatchStatus(batch: Pick<OpenAI.Batch, "status" | "errors">): ProviderBatchState {
  const providerStatus = batch.status;
  switch (batch.status) {
    case "completed":
    case "expired":
    case "cancelled":
      return { status: "ended", outcome: batch.status, providerStatus };
    case "failed": {
      const reasons = (batch.errors?.data ?? []).map(
        (error) =>
          `${error.code ?? "error"}${error.line != null ? ` (line ${error.line})` : ""}: ${error.message ?? ""}`,
      );
      return {
        status: "ended",
        outcome: "failed",
        providerStatus,
        failure: reasons.length > 0 ? reasons.join("; ") : "provider batch failed",
      };
    }
    default:
      // validating, in_progress, finalizing, cancelling, and statuses added later: not over yet.
      return { status: "pending", providerStatus };
  }
}
