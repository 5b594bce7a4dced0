import { createInbox, headers as createHeaders, nuid } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { z } from "zod";
import { LlmProviderError } from "./errors.js";
import { CompleteChatSchema } from "./chat.js";
import type { CompleteChatInput } from "./chat.js";
import {
  ChatJobItemSchema,
  ChatJobResultSchema,
  CreateJobSchema,
  EmbeddingJobItemSchema,
  EmbeddingJobResultSchema,
  GetJobResultsSchema,
  JobRefSchema,
  JobResultsPageSchema,
  JobStatusSchema,
  SealJobSchema,
} from "./jobs.js";
import type {
  ChatJobResult,
  CreateJob,
  CreateJobInput,
  EmbeddingJobItem,
  EmbeddingJobResult,
  JobItem,
  JobStatus,
} from "./jobs.js";
import { SUBJECTS } from "./subjects.js";
import { parseRequest } from "./validation.js";

/** Item publishes awaiting their JetStream acknowledgement at once. */
const PUBLISH_WINDOW = 512;
const PUBLISH_TIMEOUT_MS = 10_000;
const PUBLISH_TRIES = 5;
/** Bounds of the wait between two looks at a job that has no new results yet. */
const POLL_MIN_MS = 50;
const POLL_MAX_MS = 1_000;

/** JetStream's answer to a publish: where it was stored, or an error. */
const PubAckSchema = z.union([
  z.object({ stream: z.string(), seq: z.number(), duplicate: z.boolean().optional() }),
  z.object({ error: z.object({ code: z.number(), description: z.string() }) }),
]);

type CreateInput<K> = Omit<Extract<CreateJobInput, { kind: K }>, "job_id" | "kind"> & {
  /** Unset: a new NUID. The same id again resumes submitting (items already stored are dropped). */
  job_id?: string;
};
type ItemsOf<T> = Iterable<T> | AsyncIterable<T>;

export type SubmitEmbeddingJob = CreateInput<"embedding"> & {
  /** Texts (ids are their positions) or items with ids of the caller's own. */
  items: ItemsOf<string | EmbeddingJobItem>;
};

/** A complete_chat request of a chat job: its model is the job's. */
export type ChatJobRequest = Omit<CompleteChatInput, "model">;

export type SubmitChatJob = CreateInput<"chat"> & {
  /** Requests (ids are their positions) or items with ids of the caller's own. */
  items: ItemsOf<ChatJobRequest | { id: string; request: ChatJobRequest }>;
};

/** A submitted job: its progress, its results as they come, and a way to stop it. */
export interface Job<Result> extends AsyncIterable<Result> {
  readonly jobId: string;
  /** Progress, cost so far and failures. */
  status(): Promise<JobStatus>;
  /** Stops the job: items not yet computed get no result. */
  cancel(): Promise<JobStatus>;
  /** Waits until every item has its result (or the job was cancelled). */
  finished(): Promise<JobStatus>;
}
export type EmbeddingJob = Job<EmbeddingJobResult>;
export type ChatJob = Job<ChatJobResult>;

type Call = <S extends z.ZodType>(subject: string, body: unknown, schema: S) => Promise<z.infer<S>>;

/** An embedding job: its items are texts to embed. */
export async function submitEmbeddingJob(
  nc: NatsConnection,
  call: Call,
  request: SubmitEmbeddingJob,
  inboxPrefix?: string,
): Promise<EmbeddingJob> {
  const { items, ...rest } = request;
  const create = parseRequest(CreateJobSchema, {
    ...rest,
    kind: "embedding",
    job_id: rest.job_id ?? nuid.next(),
  });
  const jobId = await submitJob(
    nc,
    call,
    create,
    mapItems(items, (entry, position) =>
      parseRequest(
        EmbeddingJobItemSchema,
        typeof entry === "string" ? { id: String(position), input: entry } : entry,
      ),
    ),
    inboxPrefix,
  );
  return embeddingJob(call, jobId);
}

/**
 * A chat job: its items are complete_chat requests to the job's model (classification,
 * extraction), each checked here as the service will check it.
 */
export async function submitChatJob(
  nc: NatsConnection,
  call: Call,
  request: SubmitChatJob,
  inboxPrefix?: string,
): Promise<ChatJob> {
  const { items, ...rest } = request;
  const create = parseRequest(CreateJobSchema, { ...rest, kind: "chat", job_id: rest.job_id ?? nuid.next() });
  const jobId = await submitJob(
    nc,
    call,
    create,
    mapItems(items, (entry, position) => {
      const item = "request" in entry ? entry : { id: String(position), request: entry };
      parseRequest(CompleteChatSchema, { ...item.request, model: create.model });
      return parseRequest(ChatJobItemSchema, item);
    }),
    inboxPrefix,
  );
  return chatJob(call, jobId);
}

async function* mapItems<T, U>(items: ItemsOf<T>, map: (entry: T, position: number) => U): AsyncIterable<U> {
  let position = 0;
  for await (const entry of items) yield map(entry, position++);
}

/**
 * Creates a job, publishes its items to JetStream (one message each, `Nats-Msg-Id` de-duplicated,
 * a window of publishes in flight, each retried until stored) and seals it with their count.
 */
async function submitJob(
  nc: NatsConnection,
  call: Call,
  create: CreateJob,
  items: AsyncIterable<JobItem>,
  inboxPrefix: string | undefined,
): Promise<string> {
  // Creating and sealing are safe to repeat (the same body gets the same job), so a lost reply is retried.
  const created = await retrying(call)(SUBJECTS.createJob, create, JobStatusSchema);
  const jobId = created.job_id;
  const window = new Set<Promise<void>>();
  let count = 0;
  for await (const item of items) {
    count++;
    const publish = publishItem(nc, created, item, inboxPrefix).finally(() => window.delete(publish));
    window.add(publish);
    if (window.size >= PUBLISH_WINDOW) await Promise.race(window);
  }
  await Promise.all(window);
  await retrying(call)(
    SUBJECTS.sealJob,
    parseRequest(SealJobSchema, { job_id: jobId, total_items: count }),
    JobStatusSchema,
  );
  return jobId;
}

/** How long the handle keeps retrying a query that failed on the way (a worker or node restarting). */
const QUERY_RETRY_FOR_MS = 30_000;

/**
 * A call safe to repeat (every job call is) that failed for a passing reason (no worker reachable
 * for a moment, a reply lost) is retried for a while before the error reaches the caller.
 */
function retrying(call: Call): Call {
  return async (subject, body, schema) => {
    const giveUpAt = Date.now() + QUERY_RETRY_FOR_MS;
    for (let wait = POLL_MIN_MS; ; wait = Math.min(wait * 2, POLL_MAX_MS)) {
      try {
        return await call(subject, body, schema);
      } catch (error) {
        if (!(error instanceof LlmProviderError) || !error.retryable || Date.now() + wait > giveUpAt)
          throw error;
        await sleep(wait);
      }
    }
  };
}

/** A handle on an existing embedding job of this caller. */
export function embeddingJob(call: Call, jobId: string): EmbeddingJob {
  return jobHandle(call, jobId, EmbeddingJobResultSchema);
}

/** A handle on an existing chat job of this caller. */
export function chatJob(call: Call, jobId: string): ChatJob {
  return jobHandle(call, jobId, ChatJobResultSchema);
}

function jobHandle<S extends z.ZodType>(
  unreliableCall: Call,
  jobId: string,
  resultSchema: S,
): Job<z.infer<S>> {
  const call = retrying(unreliableCall);
  const ref = parseRequest(JobRefSchema, { job_id: jobId });
  const status = () => call(SUBJECTS.getJob, ref, JobStatusSchema);
  const pageSchema = JobResultsPageSchema.extend({ results: z.array(resultSchema) });
  return {
    jobId,
    status,
    cancel: () => call(SUBJECTS.cancelJob, ref, JobStatusSchema),
    async finished() {
      for (let wait = POLL_MIN_MS; ; wait = Math.min(wait * 2, POLL_MAX_MS)) {
        const current = await status();
        if (current.state === "completed" || current.state === "cancelled") return current;
        await sleep(wait);
      }
    },
    async *[Symbol.asyncIterator]() {
      let afterSeq = 0;
      for (let wait = POLL_MIN_MS; ;) {
        const page = await call(
          SUBJECTS.getJobResults,
          parseRequest(GetJobResultsSchema, { job_id: jobId, after_seq: afterSeq }),
          pageSchema,
        );
        yield* page.results as z.infer<S>[];
        afterSeq = page.last_seq;
        if (page.complete) return;
        if (page.results.length > 0) wait = POLL_MIN_MS;
        else {
          await sleep(wait);
          wait = Math.min(wait * 2, POLL_MAX_MS);
        }
      }
    },
  };
}

async function publishItem(
  nc: NatsConnection,
  job: JobStatus,
  item: JobItem,
  inboxPrefix: string | undefined,
): Promise<void> {
  const { items_subject: subject, job_id: jobId } = job;
  const hdrs = createHeaders();
  hdrs.set("Nats-Msg-Id", `${job.msg_id_prefix}:${item.id}`);
  const data = JSON.stringify(item);
  for (let attempt = 1; ; attempt++) {
    try {
      const reply = await nc.request(subject, data, {
        timeout: PUBLISH_TIMEOUT_MS,
        headers: hdrs,
        ...(inboxPrefix === undefined ? {} : { noMux: true, reply: createInbox(inboxPrefix) }),
      });
      const ack = PubAckSchema.parse(reply.json());
      if ("error" in ack) throw new Error(`JetStream refused item ${item.id}: ${ack.error.description}`);
      return;
    } catch (error) {
      // The same Nats-Msg-Id again is safe: a stored item is not stored twice.
      if (attempt >= PUBLISH_TRIES)
        throw new LlmProviderError(
          "service_unavailable",
          `item ${item.id} of job ${jobId} could not be stored`,
          {
            cause: error,
          },
        );
      await sleep(POLL_MIN_MS * 2 ** attempt);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
