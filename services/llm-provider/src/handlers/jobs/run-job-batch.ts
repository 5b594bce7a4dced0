import { EmbeddingResultSchema, JobItemSchema, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { EmbeddingResult, ErrorBody } from "@llm-provider/contracts";
import {
  addUsage,
  buildJobProgress,
  completeIfDone,
  decideOnBatchFailure,
  jobKey,
  progressPassed,
} from "../../domain/jobs.js";
import type { JobRecord } from "../../domain/jobs.js";
import { sumCosts } from "../../domain/cost.js";
import type { EventSink } from "../../ports/event-sink.js";
import type {
  ItemOutcome,
  JobResultsLog,
  JobStore,
  NewJobResult,
  QueuedItem,
} from "../../ports/job-store.js";
import { EncodedReply } from "../../ports/request-handler.js";
import type { Handler, RequestContext } from "../../ports/request-handler.js";
import { announceFinish } from "./job-commands.js";

export interface JobBatchDeps {
  jobs: JobStore;
  results: JobResultsLog;
  events: EventSink;
  /** The generate_embedding handler: a job's items go through every check a request goes through. */
  embed: Handler;
  /** A request context for the job's caller (logger, trace root, shutdown signal). */
  contextFor: (caller: string, jobId: string) => RequestContext;
  maxDeliveries: number;
  retryBaseMs: number;
  batchTimeoutMs: number;
  now?: () => Date;
}

type ValidItem = { id: string; input: string; deliveries: number; position: number };

/**
 * Runs one batch of a job's items: each item gets exactly one result in the results log (a vector,
 * or the typed error that failed it for good), then the job's usage, progress and completion are
 * updated. An item of a job that does not exist, or was cancelled, needs no result. A retryable
 * failure (rate limit, outage) sends the items back for later: backpressure, not errors.
 * Returns one outcome per item, in order.
 */
export async function runJobBatch(
  deps: JobBatchDeps,
  caller: string,
  jobId: string,
  items: readonly QueuedItem[],
): Promise<ItemOutcome[]> {
  const done: ItemOutcome[] = items.map(() => ({ kind: "done" }));
  const job = await deps.jobs.read(caller, jobId);
  if (!job || job.state === "cancelled" || job.state === "completed") {
    if (!job)
      deps
        .contextFor(caller, jobId)
        .log.warn({ job_id: jobId, items: items.length }, "items of an unknown job dropped");
    return done;
  }
  const outcomes = [...done];
  const results: NewJobResult[] = [];
  const valid: ValidItem[] = [];
  items.forEach((item, position) => {
    const parsed = JobItemSchema.safeParse(item.body);
    if (parsed.success) valid.push({ ...parsed.data, deliveries: item.deliveries, position });
    else if (item.fallbackId !== undefined)
      results.push(failed(item.fallbackId, invalidItem(parsed.error.issues[0]?.path.join(".") ?? "")));
  });
  let usage = { promptTokens: 0, cost: [] as EmbeddingResult["usage"]["cost"][] };
  const computed = await embedAll(deps, job, valid, (tokens, cost) => {
    usage = { promptTokens: usage.promptTokens + tokens, cost: [...usage.cost, cost] };
  });
  for (const outcome of computed) {
    if ("retry" in outcome) outcomes[outcome.item.position] = { kind: "retry", delayMs: outcome.retry };
    else results.push(outcome.result);
  }
  if (results.length > 0) await record(deps, job, results, usage);
  return outcomes;
}

type Computed = { item: ValidItem; retry: number } | { item: ValidItem; result: NewJobResult };

/** Embeds the items as one request; a final failure of several is split to find the item at fault. */
async function embedAll(
  deps: JobBatchDeps,
  job: JobRecord,
  items: ValidItem[],
  spent: (promptTokens: number, cost: EmbeddingResult["usage"]["cost"]) => void,
): Promise<Computed[]> {
  if (items.length === 0) return [];
  let reply: EmbeddingResult;
  try {
    reply = await embed(deps, job, items);
  } catch (error) {
    const body = errorBodyOf(error);
    const deliveries = Math.max(...items.map((item) => item.deliveries));
    const decision = decideOnBatchFailure(
      body,
      items.length,
      { count: deliveries, max: deps.maxDeliveries },
      deps.retryBaseMs,
    );
    if (decision.kind === "retry") return items.map((item) => ({ item, retry: decision.delayMs }));
    if (decision.kind === "fail")
      return items.map((item) => ({ item, result: failed(item.id, decision.error) }));
    const alone: Computed[] = [];
    for (const item of items) alone.push(...(await embedAll(deps, job, [item], spent)));
    return alone;
  }
  spent(reply.usage.prompt_tokens, reply.usage.cost);
  return items.map((item, index) => {
    const embedding = reply.data[index]!;
    return {
      item,
      result: {
        item_id: item.id,
        ok: true,
        embedding: embedding.embedding,
        model: embedding.model,
        provider_id: reply.provider_id,
        cached: embedding.cached,
      },
    };
  });
}

async function embed(deps: JobBatchDeps, job: JobRecord, items: ValidItem[]): Promise<EmbeddingResult> {
  const body = {
    model: job.model,
    input: items.map((item) => item.input),
    ...(job.dimensions !== undefined ? { dimensions: job.dimensions } : {}),
    encoding_format: job.encoding_format,
    timeout_ms: deps.batchTimeoutMs,
    ...(job.metadata ? { metadata: job.metadata } : {}),
  };
  const reply = await deps.embed(body, deps.contextFor(job.caller, job.job_id));
  const json: unknown =
    reply instanceof EncodedReply ? JSON.parse(new TextDecoder().decode(reply.bytes)) : reply;
  return EmbeddingResultSchema.parse(json);
}

/**
 * Stores the results, then adds what was spent and moves the job on. Only a batch with at least
 * one new result adds its usage: a batch delivered again after a worker died was paid for once.
 */
export async function record(
  deps: Pick<JobBatchDeps, "jobs" | "results" | "events" | "now">,
  job: JobRecord,
  results: NewJobResult[],
  usage: { promptTokens: number; cost: EmbeddingResult["usage"]["cost"][] },
): Promise<void> {
  const key = jobKey(job.caller, job.job_id);
  const fresh = await deps.results.append(key, results);
  const now = deps.now?.() ?? new Date();
  const counts = await deps.results.counts(key);
  let progress: number | undefined;
  const changed = await deps.jobs.update(job.caller, job.job_id, (current) => {
    let next = fresh.some(Boolean) ? addUsage(current, usage.promptTokens, sumCosts(usage.cost)) : current;
    progress = progressPassed(next, counts);
    if (progress !== undefined) next = { ...next, progress_percent: progress };
    return completeIfDone(next, counts, now);
  });
  if (!changed) return;
  if (progress !== undefined) {
    const percent = progress;
    void deps.events.emit(SUBJECTS.jobProgressEvent, () =>
      buildJobProgress(changed.after, counts, percent, now),
    );
  }
  await announceFinish(deps.events, changed.before, changed.after, counts, now);
}

export function failed(itemId: string, error: ErrorBody): NewJobResult {
  return { item_id: itemId, ok: false, error };
}

export function invalidItem(field: string): ErrorBody {
  return new LlmProviderError(
    "invalid_request",
    'a job item is {"id", "input"}: a non-empty input and an id of letters, digits and ._:@+=/-',
    { field: field === "" ? "item" : `item.${field}` },
  ).toBody();
}

function errorBodyOf(error: unknown): ErrorBody {
  if (error instanceof LlmProviderError) return error.toBody();
  // Not a typed failure (a fault of ours, a lost connection): tried again like an outage.
  return new LlmProviderError("internal", "the batch failed unexpectedly", { retryable: true }).toBody();
}
