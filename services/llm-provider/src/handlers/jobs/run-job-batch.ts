import {
  ChatJobItemSchema,
  EmbeddingJobItemSchema,
  LlmProviderError,
  SUBJECTS,
} from "@llm-provider/contracts";
import type {
  ChatCompletion,
  ChatJobItem,
  EmbeddingJobItem,
  ErrorBody,
  JobUsage,
} from "@llm-provider/contracts";
import {
  addUsage,
  buildJobProgress,
  completeIfDone,
  jobKey,
  progressPassed,
  sumUsage,
} from "../../domain/jobs.js";
import type { JobRecord } from "../../domain/jobs.js";
import type { EventSink } from "../../ports/event-sink.js";
import type {
  ItemOutcome,
  JobResultsLog,
  JobStore,
  NewJobResult,
  QueuedItem,
} from "../../ports/job-store.js";
import type { RequestContext } from "../../ports/request-handler.js";
import type { EmbeddingReply } from "../embeddings/build-embedding-reply.js";
import { answerChatItems } from "./answer-chat-items.js";
import { embedJobItems } from "./embed-job-items.js";
import { failed, Spending } from "./job-item-outcomes.js";
import type { Computed, ValidItem } from "./job-item-outcomes.js";
import { announceFinish } from "./job-commands.js";

export interface JobBatchDeps {
  jobs: JobStore;
  results: JobResultsLog;
  events: EventSink;
  /** generate_embedding computed in the process: a job's items go through every check a request goes through. */
  embed: (body: unknown, context: RequestContext) => Promise<EmbeddingReply>;
  /** complete_chat computed in the process, for the items of a chat job. */
  chat: (body: unknown, context: RequestContext) => Promise<ChatCompletion>;
  /** A request context for the job's caller (logger, trace root, shutdown signal). */
  contextFor: (caller: string, jobId: string, requestId?: string) => RequestContext;
  maxDeliveries: number;
  retryBaseMs: number;
  batchTimeoutMs: number;
  /** Items of a chat job's batch answered at once. */
  chatConcurrency: number;
  now?: () => Date;
}

/**
 * Runs one batch of a job's items: each item gets exactly one result in the results log (a vector,
 * a completion, or the typed error that failed it for good), then the job's usage, progress and
 * completion are updated. An item of a job that does not exist, or was cancelled, needs no result.
 * A retryable failure (rate limit, outage) sends the items back for later: backpressure, not errors.
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
  const calls: (number | undefined)[] = [];
  const spending = new Spending();
  const computed =
    job.kind === "embedding"
      ? await embedJobItems(deps, job, validItems(items, EmbeddingJobItemSchema, results, calls), spending)
      : await answerChatItems(deps, job, validItems(items, ChatJobItemSchema, results, calls), spending);
  for (const outcome of computed as Computed<unknown>[]) {
    if ("retry" in outcome) outcomes[outcome.item.position] = { kind: "retry", delayMs: outcome.retry };
    else {
      results.push(outcome.result);
      calls.push(outcome.call);
    }
  }
  if (results.length > 0) await record(deps, job, results, calls, spending);
  return outcomes;
}

/** The items whose body is an item of the job's kind; the others get their invalid_request result. */
function validItems<Body extends EmbeddingJobItem | ChatJobItem>(
  items: readonly QueuedItem[],
  schema: {
    safeParse(
      body: unknown,
    ): { success: true; data: Body } | { success: false; error: { issues: { path: PropertyKey[] }[] } };
  },
  results: NewJobResult[],
  calls: (number | undefined)[],
): ValidItem<Body>[] {
  const valid: ValidItem<Body>[] = [];
  items.forEach((item, position) => {
    const parsed = schema.safeParse(item.body);
    if (parsed.success) valid.push({ ...parsed.data, deliveries: item.deliveries, position });
    else if (item.fallbackId !== undefined) {
      results.push(failed(item.fallbackId, invalidItem(parsed.error.issues[0]?.path.join(".") ?? "")));
      calls.push(undefined);
    }
  });
  return valid;
}

/**
 * Stores the results, then adds what was spent and moves the job on. A call's usage is added when
 * at least one of its results was new: a batch delivered again after a worker died was paid once.
 * Returns that usage (undefined when nothing new was paid).
 */
export async function record(
  deps: Pick<JobBatchDeps, "jobs" | "results" | "events" | "now">,
  job: JobRecord,
  results: NewJobResult[],
  calls: (number | undefined)[],
  spending: Spending,
): Promise<JobUsage | undefined> {
  const key = jobKey(job.caller, job.job_id);
  const fresh = await deps.results.append(key, results);
  const paid = new Set<number>();
  fresh.forEach((isNew, index) => {
    const call = calls[index];
    if (isNew && call !== undefined) paid.add(call);
  });
  const spent = sumUsage([...paid].map((call) => spending.calls[call]!));
  const now = deps.now?.() ?? new Date();
  const counts = await deps.results.counts(key);
  let progress: number | undefined;
  const changed = await deps.jobs.update(job.caller, job.job_id, (current) => {
    let next = paid.size > 0 ? addUsage(current, spent) : current;
    progress = progressPassed(next, counts);
    if (progress !== undefined) next = { ...next, progress_percent: progress };
    return completeIfDone(next, counts, now);
  });
  const paidUsage = paid.size > 0 ? spent : undefined;
  if (!changed) return paidUsage;
  if (progress !== undefined) {
    const percent = progress;
    void deps.events.emit(SUBJECTS.jobProgressEvent, () =>
      buildJobProgress(changed.after, counts, percent, now),
    );
  }
  await announceFinish(deps, changed.before, changed.after, counts, now);
  return paidUsage;
}

export function invalidItem(field: string): ErrorBody {
  return new LlmProviderError(
    "invalid_request",
    'a job item is {"id", "input"} (embedding) or {"id", "request"} (chat), with an id of letters, digits and ._:@+=/-',
    { field: field === "" ? "item" : `item.${field}` },
  ).toBody();
}
