import { LlmProviderError } from "@llm-provider/contracts";
import { upstreamModelName } from "../domain/catalog.js";
import type { Catalog } from "../domain/catalog.js";
import { batchPricing } from "../domain/cost.js";
import type { JobRecord } from "../domain/jobs.js";
import type { BatchTarget } from "../handlers/jobs/provider-batch-jobs.js";
import type { ProviderBatchClient } from "../ports/provider-batch-client.js";

/** Until a provider says otherwise: `providers[].batch.poll_interval_ms`'s default. */
const DEFAULT_POLL_INTERVAL_MS = 60_000;

/**
 * Where a provider_batch job's model is sent: its own provider's batch API (no fallback: a batch
 * is bound to one provider for hours). A model or provider without one is a typed refusal, and so
 * is a new batch (`submitting`) of a model taken out of service; the catalogue is the live one,
 * read at each submission and poll.
 */
export function batchTargetOf(
  catalog: Catalog,
  clients: ReadonlyMap<string, ProviderBatchClient>,
  job: JobRecord,
  submitting = true,
): BatchTarget | LlmProviderError {
  const model = catalog.models.get(job.model);
  if (!model || !model.features.embedding) {
    return new LlmProviderError("unknown_model", `no embedding model '${job.model}'`, { field: "model" });
  }
  if (submitting && model.is_available === false) {
    // Marked out of service in the live configuration: no new batch, as no new request; one
    // already at the provider finishes, as a request in flight does.
    return new LlmProviderError(
      "upstream_unavailable",
      `model '${job.model}' is out of service (models[].is_available: false)`,
      { field: "model" },
    );
  }
  const provider = catalog.providers.get(model.provider_id);
  const client = clients.get(model.provider_id);
  if (!provider || !client) {
    return new LlmProviderError(
      "unsupported",
      `provider '${model.provider_id}' of model '${job.model}' has no batch API this service can use`,
      { field: "mode" },
    );
  }
  return {
    client,
    providerId: provider.id,
    upstreamModel: upstreamModelName(model),
    dimensions: job.dimensions ?? model.dimensions,
    pricing: batchPricing(model.cost, provider.batch?.price_factor),
    pollIntervalMs: provider.batch?.poll_interval_ms ?? DEFAULT_POLL_INTERVAL_MS,
  };
}

/** How often a worker looks for due batches: as often as the most eager provider asks. */
export function pollEveryMs(catalog: Catalog): number {
  const intervals = [...catalog.providers.values()].map(
    (provider) => provider.batch?.poll_interval_ms ?? DEFAULT_POLL_INTERVAL_MS,
  );
  return Math.min(DEFAULT_POLL_INTERVAL_MS, ...intervals);
}
