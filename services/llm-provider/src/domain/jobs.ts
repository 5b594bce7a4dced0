import { jobItemsSubject, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type {
  CreateJob,
  Cost,
  ErrorBody,
  JobFinished,
  JobMode,
  JobProgress,
  JobKind,
  JobState,
  JobStatus,
  JobUsage,
} from "@llm-provider/contracts";
import { sumCosts } from "./cost.js";
import { deriveEventId } from "./events.js";
import { hashParts } from "./hash-parts.js";

/** What the job store holds for one caller's job: its request, where it stands, what it cost. */
export interface JobRecord {
  job_id: string;
  caller: string;
  kind: JobKind;
  /** Random: the prefix of its items' Nats-Msg-Id, which only its caller learns. */
  msg_id_prefix: string;
  model: string;
  /** Embedding jobs: the vectors' length and how results write them. */
  dimensions?: number | undefined;
  encoding_format?: "float" | "base64" | undefined;
  metadata?: Record<string, string> | undefined;
  /** Unset in records written before modes existed: realtime. */
  mode?: JobMode | undefined;
  state: JobState;
  total_items: number | null;
  usage: JobUsage;
  /** The last tenth of the items a progress event was sent for (0: none yet). */
  progress_percent: number;
  created_at: string;
  finished_at: string | null;
  /** The job_finished event was sent (the worker that finished the job may have died before). */
  finish_announced?: boolean;
}

/** How many items have a result, as the results stream counts them (exact: one result per item). */
export interface ResultCounts {
  succeeded: number;
  failed: number;
}

/**
 * The key of a job in the store and in the results subject: caller and job id hashed together,
 * so that one caller's job id never names another caller's job.
 */
export function jobKey(caller: string, jobId: string): string {
  return hashParts(["job", caller, jobId]).slice(0, 40);
}

export function newJobRecord(request: CreateJob, caller: string, now: Date, msgIdPrefix: string): JobRecord {
  return {
    job_id: request.job_id,
    caller,
    kind: request.kind,
    msg_id_prefix: msgIdPrefix,
    model: request.model,
    ...(request.kind === "embedding"
      ? { dimensions: request.dimensions, encoding_format: request.encoding_format, mode: request.mode }
      : {}),
    metadata: request.metadata,
    state: "open",
    total_items: null,
    usage: { prompt_tokens: 0, completion_tokens: 0, cost: zeroCost() },
    progress_percent: 0,
    created_at: now.toISOString(),
    finished_at: null,
  };
}

/** A repeated create of the same job is answered with the job as it stands; another body is refused. */
export function sameJobRequest(record: JobRecord, request: CreateJob): boolean {
  if (record.kind !== request.kind || record.model !== request.model) return false;
  return (
    request.kind !== "embedding" ||
    (record.dimensions === request.dimensions &&
      record.encoding_format === request.encoding_format &&
      (record.mode ?? "realtime") === request.mode)
  );
}

/** Sealing: the count is fixed once; a repeat with the same count is a no-op, another count is refused. */
export function sealJob(record: JobRecord, totalItems: number, counts: ResultCounts): JobRecord {
  if (record.state === "cancelled")
    throw new LlmProviderError("invalid_request", `job '${record.job_id}' was cancelled`, {
      field: "job_id",
    });
  if (record.total_items !== null) {
    if (record.total_items === totalItems) return record;
    throw new LlmProviderError(
      "invalid_request",
      `job '${record.job_id}' is sealed with ${record.total_items} items already`,
      { field: "total_items" },
    );
  }
  if (counts.succeeded + counts.failed > totalItems)
    throw new LlmProviderError(
      "invalid_request",
      `job '${record.job_id}' has ${counts.succeeded + counts.failed} results already, more than ${totalItems}`,
      { field: "total_items" },
    );
  return { ...record, state: "sealed", total_items: totalItems };
}

/** Cancelling stops a job that has not finished; a finished one stays as it is. */
export function cancelJob(record: JobRecord, now: Date): JobRecord {
  if (record.state === "completed" || record.state === "cancelled") return record;
  return { ...record, state: "cancelled", finished_at: now.toISOString() };
}

/** A sealed job whose every item has its result is completed. */
export function completeIfDone(record: JobRecord, counts: ResultCounts, now: Date): JobRecord {
  if (record.state !== "sealed" || record.total_items === null) return record;
  if (counts.succeeded + counts.failed < record.total_items) return record;
  return { ...record, state: "completed", finished_at: now.toISOString() };
}

/** The tenth of a sealed job's items reached, past the last one announced, or undefined. */
export function progressPassed(record: JobRecord, counts: ResultCounts): number | undefined {
  if (record.state !== "sealed" || !record.total_items) return undefined;
  const percent = Math.floor(((counts.succeeded + counts.failed) * 10) / record.total_items) * 10;
  return percent > record.progress_percent && percent < 100 ? percent : undefined;
}

/** What a batch spent, added to the job's usage (only for results that were new). */
export function addUsage(record: JobRecord, spent: JobUsage): JobRecord {
  return {
    ...record,
    usage: {
      prompt_tokens: record.usage.prompt_tokens + spent.prompt_tokens,
      completion_tokens: record.usage.completion_tokens + spent.completion_tokens,
      cost: sumCosts([record.usage.cost, spent.cost]),
    },
  };
}

/** Usage of several calls as one. */
export function sumUsage(spent: readonly JobUsage[]): JobUsage {
  let prompt = 0;
  let completion = 0;
  for (const usage of spent) {
    prompt += usage.prompt_tokens;
    completion += usage.completion_tokens;
  }
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    cost: sumCosts(spent.map((usage) => usage.cost)),
  };
}

export function isFinished(state: JobState): boolean {
  return state === "completed" || state === "cancelled";
}

/** A finished job whose job_finished event is not known to have been sent. */
export function awaitsFinishAnnouncement(record: JobRecord): boolean {
  return isFinished(record.state) && record.finish_announced !== true;
}

/** What a worker does with a batch whose upstream work failed. */
export type BatchFailureDecision =
  /** Try the items again later (redelivery after `delayMs`): a passing condition, not their fault. */
  | { kind: "retry"; delayMs: number }
  /** Try each item alone: one bad input must not fail the others. */
  | { kind: "split" }
  /** Every item gets this error as its result. */
  | { kind: "fail"; error: ErrorBody };

/**
 * A retryable failure (rate limit, outage, busy) is backpressure: the items wait and come again,
 * until they have been delivered `maxDeliveries` times; then, as any final failure, they get it as
 * their result. A final failure of several items is split first, to find the item at fault.
 */
export function decideOnBatchFailure(
  error: ErrorBody,
  items: number,
  delivery: { count: number; max: number },
  retryBaseMs: number,
): BatchFailureDecision {
  if (error.retryable && delivery.count < delivery.max) {
    const backoff = Math.min(retryBaseMs * 2 ** (delivery.count - 1), 60_000);
    return { kind: "retry", delayMs: Math.max(error.retry_after_ms ?? 0, backoff) };
  }
  if (items > 1) return { kind: "split" };
  return { kind: "fail", error };
}

/** What a caller is told about its job. */
export function jobStatusOf(record: JobRecord, counts: ResultCounts): JobStatus {
  return {
    job_id: record.job_id,
    kind: record.kind,
    model: record.model,
    mode: record.mode ?? "realtime",
    state: record.state,
    items_subject: jobItemsSubject(record.job_id),
    msg_id_prefix: record.msg_id_prefix,
    total_items: record.total_items,
    succeeded: counts.succeeded,
    failed: counts.failed,
    usage: record.usage,
    created_at: record.created_at,
    finished_at: record.finished_at,
  };
}

export function buildJobProgress(
  record: JobRecord,
  counts: ResultCounts,
  percent: number,
  now: Date,
): JobProgress {
  const type = SUBJECTS.jobProgressEvent;
  return {
    // created_at: a job id used again once its record expired is another job.
    id: deriveEventId(type, record.caller, record.job_id, record.created_at, String(percent)),
    type,
    source: "llm-provider",
    time: now.toISOString(),
    caller: record.caller,
    job_id: record.job_id,
    data: { total_items: record.total_items, ...counts, percent },
  };
}

/** Built from the record that finished the job (completed or cancelled). */
export function buildJobFinished(record: JobRecord, counts: ResultCounts, now: Date): JobFinished {
  const type = SUBJECTS.jobFinishedEvent;
  return {
    id: deriveEventId(type, record.caller, record.job_id, record.created_at),
    type,
    source: "llm-provider",
    time: now.toISOString(),
    caller: record.caller,
    job_id: record.job_id,
    data: {
      total_items: record.total_items,
      ...counts,
      state: record.state === "cancelled" ? "cancelled" : "completed",
      model: record.model,
      usage: record.usage,
      ...(record.metadata ? { metadata: record.metadata } : {}),
    },
  };
}

function zeroCost(): Cost {
  return { currency: "USD", input: 0, output: 0, total: 0 };
}
