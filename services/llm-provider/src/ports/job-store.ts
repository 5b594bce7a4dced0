import type { ChatJobResult, EmbeddingJobResult, JobItemResult } from "@llm-provider/contracts";
import type { JobRecord, ResultCounts } from "../domain/jobs.js";

/** A change to a job record: the record to write, or the same record when nothing changes. */
export type JobChange = (current: JobRecord) => JobRecord;

/**
 * Port to the job records (shared by every worker). Every change is a compare-and-set on the
 * revision read, retried on a conflict, so that concurrent workers never lose each other's writes.
 */
export interface JobStore {
  /** Stores a new job; when the caller's job id exists, the record found instead. */
  create(record: JobRecord): Promise<{ created: true } | { existing: JobRecord }>;
  read(caller: string, jobId: string): Promise<JobRecord | undefined>;
  /** Applies `change` to the current record; undefined when there is no such job. */
  update(
    caller: string,
    jobId: string,
    change: JobChange,
  ): Promise<{ before: JobRecord; after: JobRecord } | undefined>;
}

/**
 * A result as a worker writes it (its `seq` is given by the log); a float vector still as the
 * `Float32Array` it was computed as, written out by the log.
 */
export type NewJobResult =
  | (Omit<Extract<EmbeddingJobResult, { ok: true }>, "seq" | "embedding"> & {
      embedding: Float32Array | string;
    })
  | Omit<Extract<ChatJobResult, { ok: true }>, "seq">
  | Omit<Extract<JobItemResult, { ok: false }>, "seq">;

/**
 * Port to the results of jobs: one per item, kept in order of arrival. Writing a result twice
 * (an item delivered again after a worker died) keeps the first.
 */
export interface JobResultsLog {
  /** Appends the results of one job; for each, whether it was new (not a duplicate). */
  append(jobKey: string, results: readonly NewJobResult[]): Promise<boolean[]>;
  counts(jobKey: string): Promise<ResultCounts>;
  /**
   * Up to `max` results after `afterSeq`, in order (fewer when they would not fit in one reply),
   * and whether more were stored after them.
   */
  page(jobKey: string, afterSeq: number, max: number): Promise<{ results: JobItemResult[]; more: boolean }>;
}

/** Port to the queue of job items. */
export interface JobItemsQueue {
  /** Drops every item of the job still waiting (a cancelled job); how many were dropped. */
  discard(caller: string, jobId: string): Promise<number>;
}

/** One queued item as a worker received it. */
export interface QueuedItem {
  /** The message body, not yet checked. */
  body: unknown;
  /** The item id from the de-duplication header, for an item whose body names none. */
  fallbackId: string | undefined;
  /** How many times it has been handed out (1: the first time). */
  deliveries: number;
}

/** What becomes of a queued item: done with (its result is stored, or it needs none), or tried again later. */
export type ItemOutcome = { kind: "done" } | { kind: "retry"; delayMs: number };
