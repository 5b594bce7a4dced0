import { LlmProviderError } from "@llm-provider/contracts";
import type { ErrorBody, JobUsage } from "@llm-provider/contracts";
import type { NewJobResult } from "../../ports/job-store.js";

/** A queued item whose body is a valid item of its job's kind, with where it stands in its batch. */
export type ValidItem<Body> = Body & { deliveries: number; position: number };

/**
 * What became of one item: to be tried again later, or its result; `call` indexes the upstream
 * call it was part of in `Spending.calls` (none for a result that cost nothing to find out).
 */
export type Computed<Body> =
  { item: ValidItem<Body>; retry: number } | { item: ValidItem<Body>; result: NewJobResult; call?: number };

/** What the calls of one batch spent, each call counted once however many items it answered. */
export class Spending {
  readonly calls: JobUsage[] = [];
  /** The index of a call that spent `usage`. */
  add(usage: JobUsage): number {
    return this.calls.push(usage) - 1;
  }
}

export function failed(itemId: string, error: ErrorBody): NewJobResult {
  return { item_id: itemId, ok: false, error };
}

export function errorBodyOf(error: unknown): ErrorBody {
  if (error instanceof LlmProviderError) return error.toBody();
  // Not a typed failure (a fault of ours, a lost connection): tried again like an outage.
  return new LlmProviderError("internal", "the batch failed unexpectedly", { retryable: true }).toBody();
}
