import { EmbeddingJobItemSchema, LlmProviderError } from "@llm-provider/contracts";
import type { Cost, ErrorBody, JobUsage } from "@llm-provider/contracts";
import { computeCost, sumCosts } from "../../domain/cost.js";
import { estimateEmbeddingTokens } from "../../domain/embedding-batch.js";
import { encodeFloat32Base64 } from "../../domain/embedding-vector.js";
import { failureTraits, UpstreamError } from "../../domain/failure.js";
import type { JobRecord } from "../../domain/jobs.js";
import { claimForPoll, customIdOf, nextPoll } from "../../domain/provider-batch-jobs.js";
import type { ProviderBatchRecord } from "../../domain/provider-batch-jobs.js";
import type { Pricing } from "../../domain/cost.js";
import type { EventSink } from "../../ports/event-sink.js";
import type {
  BatchItemResult,
  ProviderBatchClient,
  ProviderBatchOutcome,
} from "../../ports/provider-batch-client.js";
import type { ProviderBatchStore } from "../../ports/provider-batch-store.js";
import type { EmbeddingOutcome } from "../../ports/provider-client.js";
import type {
  ItemOutcome,
  JobResultsLog,
  JobStore,
  NewJobResult,
  QueuedItem,
} from "../../ports/job-store.js";
import { failed, Spending } from "./job-item-outcomes.js";
import { invalidItem, record } from "./run-job-batch.js";

/** Where a job's model goes in a provider batch, resolved from the configuration. */
export interface BatchTarget {
  client: ProviderBatchClient;
  providerId: string;
  upstreamModel: string;
  /** The vector length every result must have (the job's, else the model's). */
  dimensions: number | undefined;
  /** The model's prices at the batch discount (domain/cost `batchPricing`). */
  pricing: Pricing;
  pollIntervalMs: number;
}

export interface ProviderBatchDeps {
  jobs: JobStore;
  results: JobResultsLog;
  events: EventSink;
  batches: ProviderBatchStore;
  /**
   * The batch target of a job's model, or why it has none (a typed error every item gets);
   * `submitting`: for a new batch (a model out of service takes none), else one at the provider.
   */
  targetOf: (job: JobRecord, submitting: boolean) => BatchTarget | LlmProviderError;
  /** The batch client of a provider, to cancel a batch whose job is gone. */
  clientOf: (providerId: string) => ProviderBatchClient | undefined;
  /**
   * The caller's limits and the Policy Gateway for one provider batch of the job's caller, as a
   * request would ask them; throws their typed refusal.
   */
  admit: (job: JobRecord, check: { providerId: string; estimatedTokens: number }) => Promise<void>;
  /**
   * Adds what a batch's new results cost (at the batch price) to the job caller's spend, under
   * the job's model and metadata, as an answer's spend is added.
   */
  recordSpend: (job: JobRecord, spent: { usd: number; tokens: number }) => Promise<void>;
  /** How long a poller's claim holds; past it another worker takes the batch over. */
  leaseMs: number;
  retryBaseMs: number;
  /** Aborts provider calls at shutdown. */
  signal: AbortSignal;
  warn: (fields: Record<string, unknown>, message: string) => void;
  now?: () => Date;
}

/**
 * Sends a provider_batch job's items to its provider as one batch and records the batch before
 * the items are acknowledged: once `done`, the record (not the queue) answers for them. A refused
 * submission fails the items with its typed error; a retryable one sends them back for later.
 */
export async function submitProviderBatch(
  deps: ProviderBatchDeps,
  job: JobRecord,
  items: readonly QueuedItem[],
): Promise<ItemOutcome[]> {
  const done: ItemOutcome[] = items.map(() => ({ kind: "done" }));
  const invalid: NewJobResult[] = [];
  const valid: { id: string; input: string }[] = [];
  for (const item of items) {
    const parsed = EmbeddingJobItemSchema.safeParse(item.body);
    if (parsed.success) valid.push(parsed.data);
    else if (item.fallbackId !== undefined)
      invalid.push(failed(item.fallbackId, invalidItem(parsed.error.issues[0]?.path.join(".") ?? "")));
  }
  const target = deps.targetOf(job, true);
  if (target instanceof LlmProviderError) {
    const error = target.toBody();
    await recordResults(deps, job, [...invalid, ...valid.map((item) => failed(item.id, error))], []);
    return done;
  }
  if (valid.length > 0) {
    let batchId: string;
    try {
      if (!target.client.submitEmbeddings) throw noEmbeddingBatch(target.providerId);
      await deps.admit(job, {
        providerId: target.providerId,
        estimatedTokens: estimateEmbeddingTokens(valid.map((item) => item.input)),
      });
      batchId = await target.client.submitEmbeddings({
        upstreamModel: target.upstreamModel,
        dimensions: job.dimensions,
        items: valid.map((item, index) => ({ customId: customIdOf(index), input: item.input })),
        signal: deps.signal,
      });
    } catch (error) {
      const body = errorBodyOf(error);
      if (body.retryable) return items.map(() => ({ kind: "retry", delayMs: deps.retryBaseMs }));
      await recordResults(deps, job, [...invalid, ...valid.map((item) => failed(item.id, body))], []);
      return done;
    }
    const now = deps.now?.() ?? new Date();
    // Before the acknowledgements: a worker dying here leaves the items queued, and the batch an orphan.
    await deps.batches.create({
      caller: job.caller,
      job_id: job.job_id,
      provider_id: target.providerId,
      batch_id: batchId,
      item_ids: valid.map((item) => item.id),
      submitted_at: now.toISOString(),
      next_poll_at: new Date(now.getTime() + target.pollIntervalMs).toISOString(),
      lease_until: null,
    });
  }
  if (invalid.length > 0) await recordResults(deps, job, invalid, []);
  return done;
}

/**
 * One round over every submitted batch that is due: a batch is claimed (compare-and-set with a
 * lease), checked, and when it ended its results become the items' results (one per item, typed
 * errors for those without an answer), its usage is added at the batch price, and its record is
 * removed. A batch of a cancelled or vanished job is cancelled at the provider.
 */
export async function pollProviderBatches(deps: ProviderBatchDeps): Promise<void> {
  for (const key of await deps.batches.keys()) {
    const now = deps.now?.() ?? new Date();
    const claimed = await deps.batches.change(key, (current) => claimForPoll(current, now, deps.leaseMs));
    if (!claimed) continue;
    try {
      await pollOne(deps, key, claimed);
    } catch (error) {
      deps.warn(
        { err: error, job_id: claimed.job_id, batch_id: claimed.batch_id },
        "polling a provider batch failed: tried again later",
      );
      const later = deps.now?.() ?? new Date();
      await deps.batches
        .change(key, (current) => nextPoll(current, later, deps.retryBaseMs))
        .catch(() => undefined);
    }
  }
}

async function pollOne(deps: ProviderBatchDeps, key: string, batch: ProviderBatchRecord): Promise<void> {
  const job = await deps.jobs.read(batch.caller, batch.job_id);
  const cancelAtProvider = () =>
    deps
      .clientOf(batch.provider_id)
      ?.cancel(batch.batch_id, deps.signal)
      .catch((error: unknown) => {
        deps.warn({ err: error, batch_id: batch.batch_id }, "cancelling a provider batch failed");
      });
  if (!job || job.state === "cancelled" || job.state === "completed") {
    await cancelAtProvider();
    await deps.batches.remove(key);
    return;
  }
  const target = deps.targetOf(job, false);
  if (target instanceof LlmProviderError || target.providerId !== batch.provider_id) {
    // The configuration no longer sends the job's model to this batch's provider: its items fail, typed.
    const error =
      target instanceof LlmProviderError
        ? target
        : new LlmProviderError(
            "unsupported",
            `model '${job.model}' no longer runs on provider '${batch.provider_id}'`,
          );
    await recordResults(
      deps,
      job,
      batch.item_ids.map((itemId) => failed(itemId, error.toBody())),
      [],
    );
    await cancelAtProvider();
    await deps.batches.remove(key);
    return;
  }
  const state = await target.client.check(batch.batch_id, deps.signal);
  if (state.status === "pending") {
    await deps.batches.change(key, (current) =>
      nextPoll(current, deps.now?.() ?? new Date(), target.pollIntervalMs),
    );
    return;
  }
  const answers =
    state.outcome === "failed" || !target.client.readEmbeddingResults
      ? []
      : await target.client.readEmbeddingResults(batch.batch_id, deps.signal);
  const { results, promptTokens } = itemResults(job, target, batch, answers, state.outcome, state.failure);
  const paid = await recordResults(
    deps,
    job,
    results,
    [computeCost(promptTokens, 0, target.pricing)],
    promptTokens,
  );
  // Only when this poll stored the results: a batch polled again after a crash was paid once.
  if (paid) {
    await deps.recordSpend(job, {
      usd: paid.cost.total,
      tokens: paid.prompt_tokens + paid.completion_tokens,
    });
  }
  await deps.batches.remove(key);
}

/** One result per item of the batch: its vector, its own failure, or why the batch left it unanswered. */
function itemResults(
  job: JobRecord,
  target: BatchTarget,
  batch: ProviderBatchRecord,
  answers: BatchItemResult<EmbeddingOutcome>[],
  outcome: ProviderBatchOutcome,
  failure: string | undefined,
): { results: NewJobResult[]; promptTokens: number } {
  const byCustomId = new Map(answers.map((answer) => [answer.customId, answer]));
  let promptTokens = 0;
  const results = batch.item_ids.map((itemId, index): NewJobResult => {
    const answer = byCustomId.get(customIdOf(index));
    if (!answer) return failed(itemId, unanswered(outcome, failure));
    if ("error" in answer) return failed(itemId, errorBodyOf(answer.error));
    promptTokens += answer.outcome.usage?.promptTokens ?? 0;
    const vector = answer.outcome.vectors[0];
    if (!vector || (target.dimensions !== undefined && vector.length !== target.dimensions)) {
      return failed(
        itemId,
        new LlmProviderError(
          "dimension_mismatch",
          `provider returned ${vector?.length ?? 0} dimensions, expected ${target.dimensions}`,
        ).toBody(),
      );
    }
    return {
      item_id: itemId,
      ok: true,
      // A float vector is written by the results log, each value as its shortest float32 text.
      embedding: job.encoding_format === "base64" ? encodeFloat32Base64(vector) : vector,
      model: job.model,
      provider_id: target.providerId,
      cached: false,
    };
  });
  return { results, promptTokens };
}

/** The error of an item the provider's batch ended without answering. */
function unanswered(outcome: ProviderBatchOutcome, failure: string | undefined): ErrorBody {
  switch (outcome) {
    case "failed":
      return new LlmProviderError(
        "upstream_bad_request",
        `the provider batch failed: ${failure ?? "no reason given"}`,
      ).toBody();
    case "expired":
      return new LlmProviderError(
        "upstream_timeout",
        "the provider batch expired before this item ran",
      ).toBody();
    case "cancelled":
      return new LlmProviderError(
        "upstream_unavailable",
        "the provider batch was cancelled before this item ran",
      ).toBody();
    case "completed":
      return new LlmProviderError(
        "upstream_malformed_response",
        "the provider batch completed without this item",
      ).toBody();
  }
}

async function recordResults(
  deps: ProviderBatchDeps,
  job: JobRecord,
  results: NewJobResult[],
  cost: Cost[],
  promptTokens = 0,
): Promise<JobUsage | undefined> {
  if (results.length === 0) return undefined;
  // The whole provider batch is one call: its usage counts when one of its results is new.
  const spending = new Spending();
  const call =
    cost.length > 0
      ? spending.add({ prompt_tokens: promptTokens, completion_tokens: 0, cost: sumCosts(cost) })
      : undefined;
  return await record(
    deps,
    job,
    results,
    results.map(() => call),
    spending,
  );
}

function noEmbeddingBatch(providerId: string): LlmProviderError {
  return new LlmProviderError("unsupported", `provider '${providerId}' has no embeddings batch API`);
}

function errorBodyOf(error: unknown): ErrorBody {
  if (error instanceof LlmProviderError) return error.toBody();
  if (error instanceof UpstreamError) {
    return new LlmProviderError(failureTraits(error.failure).errorCode, error.message, {
      details: {
        failure: error.failure,
        ...(error.providerCode ? { provider_code: error.providerCode } : {}),
      },
    }).toBody();
  }
  return new LlmProviderError("internal", "the provider batch call failed unexpectedly", {
    retryable: true,
  }).toBody();
}
