import {
  CreateJobSchema,
  GetJobResultsSchema,
  JobRefSchema,
  LlmProviderError,
  parseRequest,
  quoteValue,
  SealJobSchema,
  SUBJECTS,
} from "@llm-provider/contracts";
import type { JobResultsPage, JobStatus } from "@llm-provider/contracts";
import type { Catalog } from "../../domain/catalog.js";
import { resolveEmbeddingRequirement } from "../../domain/embedding-requirements.js";
import {
  awaitsFinishAnnouncement,
  buildJobFinished,
  cancelJob,
  completeIfDone,
  isFinished,
  jobKey,
  jobStatusOf,
  newJobRecord,
  sameJobRequest,
  sealJob,
} from "../../domain/jobs.js";
import type { JobRecord, ResultCounts } from "../../domain/jobs.js";
import type { EventSink } from "../../ports/event-sink.js";
import type { JobItemsQueue, JobResultsLog, JobStore } from "../../ports/job-store.js";
import type { Handler, RequestContext } from "../../ports/request-handler.js";
import { configuredModel } from "../request-admission.js";

export interface JobCommandDeps {
  catalog: () => Catalog;
  jobs: JobStore;
  results: JobResultsLog;
  items: JobItemsQueue;
  events: EventSink;
  /** A new random, token-safe id (the items' Nats-Msg-Id prefix). */
  newId: () => string;
  now?: () => Date;
}

/** The subjects that open, seal, cancel and report jobs; the items themselves come through JetStream. */
export function createJobHandlers(deps: JobCommandDeps) {
  const now = deps.now ?? (() => new Date());
  const countsOf = (record: JobRecord) => deps.results.counts(jobKey(record.caller, record.job_id));

  const createJob: Handler = async (body, context) => {
    const request = parseRequest(CreateJobSchema, body);
    const model = configuredModel(deps.catalog(), request.model);
    if (request.kind === "embedding") {
      const resolved = resolveEmbeddingRequirement(model, request.dimensions);
      if ("mismatch" in resolved) {
        const { kind, message, field } = resolved.mismatch;
        throw new LlmProviderError(kind, message, { field });
      }
    } else if (!model.features.chat) {
      // What each item asks for is checked per item, as a request is; the model once, here.
      throw new LlmProviderError("unsupported", `model '${model.model_name}' does not support chat`, {
        field: "model",
      });
    }
    const record = newJobRecord(request, context.caller, now(), deps.newId());
    const stored = await deps.jobs.create(record);
    if ("created" in stored) {
      context.log.info({ job_id: record.job_id, model: record.model }, "job created");
      return jobStatusOf(record, { succeeded: 0, failed: 0 });
    }
    // Creating again is how a caller that lost the reply learns the job exists: same job, same answer.
    if (!sameJobRequest(stored.existing, request))
      throw new LlmProviderError(
        "invalid_request",
        `job ${quoteValue(request.job_id)} exists with another kind, model, dimensions or encoding`,
        { field: "job_id" },
      );
    return jobStatusOf(stored.existing, await countsOf(stored.existing));
  };

  const sealJobHandler: Handler = async (body, context) => {
    const request = parseRequest(SealJobSchema, body);
    const current = await requireJob(deps.jobs, context, request.job_id);
    const countedBefore = await countsOf(current);
    const sealed = await deps.jobs.update(context.caller, request.job_id, (record) =>
      sealJob(record, request.total_items, countedBefore),
    );
    if (!sealed) throw notFound(request.job_id);
    // Counted after the seal is stored: a batch that stored the last results before then saw the
    // job open and could not complete it, so the seal does; one after then completes it itself.
    const counts = await countsOf(current);
    const completed = await deps.jobs.update(context.caller, request.job_id, (record) =>
      completeIfDone(record, counts, now()),
    );
    const after = completed?.after ?? sealed.after;
    await announceFinish(deps, sealed.before, after, counts, now());
    return jobStatusOf(after, counts);
  };

  const cancelJobHandler: Handler = async (body, context) => {
    const request = parseRequest(JobRefSchema, body);
    await requireJob(deps.jobs, context, request.job_id);
    const changed = await deps.jobs.update(context.caller, request.job_id, (record) =>
      cancelJob(record, now()),
    );
    if (!changed) throw notFound(request.job_id);
    // Items still queued are dropped; those in a worker's hands see the state and are not computed.
    const dropped = await deps.items.discard(context.caller, request.job_id);
    const counts = await countsOf(changed.after);
    await announceFinish(deps, changed.before, changed.after, counts, now());
    if (changed.before !== changed.after)
      context.log.info({ job_id: request.job_id, dropped_items: dropped }, "job cancelled");
    return jobStatusOf(changed.after, counts);
  };

  const getJob: Handler = async (body, context): Promise<JobStatus> => {
    const request = parseRequest(JobRefSchema, body);
    const record = await requireJob(deps.jobs, context, request.job_id);
    const counts = await countsOf(record);
    // The worker that finished the job died before its event: sent now (a repeat is de-duplicated).
    if (awaitsFinishAnnouncement(record)) await announceFinish(deps, undefined, record, counts, now());
    return jobStatusOf(record, counts);
  };

  const getJobResults: Handler = async (body, context): Promise<JobResultsPage> => {
    const request = parseRequest(GetJobResultsSchema, body);
    // The state is read first: a job finished by then has every result in the log already.
    const record = await requireJob(deps.jobs, context, request.job_id);
    const key = jobKey(context.caller, request.job_id);
    const { results, more } = await deps.results.page(key, request.after_seq, request.max_results);
    return {
      job_id: request.job_id,
      results,
      last_seq: results.at(-1)?.seq ?? request.after_seq,
      state: record.state,
      complete: isFinished(record.state) && !more,
    };
  };

  return {
    [SUBJECTS.createJob]: typedStateFailures(createJob),
    [SUBJECTS.sealJob]: typedStateFailures(sealJobHandler),
    [SUBJECTS.cancelJob]: typedStateFailures(cancelJobHandler),
    [SUBJECTS.getJob]: typedStateFailures(getJob),
    [SUBJECTS.getJobResults]: typedStateFailures(getJobResults),
  };
}

/**
 * A job lives in JetStream: a store that does not answer (a stream leader being elected, a node
 * away) is a passing condition the caller may retry, not an internal fault.
 */
function typedStateFailures(handler: Handler): Handler {
  return async (body, context) => {
    try {
      return await handler(body, context);
    } catch (error) {
      if (error instanceof LlmProviderError || isProgrammingError(error)) throw error;
      context.log.warn({ err: error }, "job state did not answer");
      throw new LlmProviderError("state_unavailable", "the job's state did not answer in time; retry", {
        cause: error,
      });
    }
  };
}

/** A fault in our code, not a store that did not answer: it must surface as internal, not be retried. */
function isProgrammingError(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    error instanceof ReferenceError ||
    error instanceof RangeError ||
    error instanceof SyntaxError
  );
}

/**
 * The job-finished event, sent by whichever change finished the job (the write that won the
 * compare-and-set), then marked as sent on the record; `before` undefined: a finished job whose
 * mark is missing (its worker died in between), announced again. The id is derived from the job,
 * so a repeat is dropped by the stream.
 */
export async function announceFinish(
  deps: { events: EventSink; jobs: JobStore },
  before: JobRecord | undefined,
  after: JobRecord,
  counts: ResultCounts,
  now: Date,
): Promise<void> {
  if (!awaitsFinishAnnouncement(after) || (before !== undefined && isFinished(before.state))) return;
  await deps.events.emit(SUBJECTS.jobFinishedEvent, () => buildJobFinished(after, counts, now));
  await deps.jobs.update(after.caller, after.job_id, (record) =>
    record.finish_announced === true ? record : { ...record, finish_announced: true },
  );
}

async function requireJob(jobs: JobStore, context: RequestContext, jobId: string): Promise<JobRecord> {
  const record = await jobs.read(context.caller, jobId);
  if (!record) throw notFound(jobId);
  return record;
}

function notFound(jobId: string): LlmProviderError {
  return new LlmProviderError("not_found", `job ${quoteValue(jobId)} does not exist (or has expired)`, {
    field: "job_id",
  });
}
