import { z } from "zod";
import { ChatCompletionSchema, CostSchema } from "./chat.js";
import { ErrorBodySchema } from "./errors.js";
import { REQUEST_ID_PATTERN, REQUEST_ID_RULE } from "./subjects.js";

/**
 * A job id is one NATS subject token (it ends the items subject): letters, digits, `_` and `-`,
 * 1-64 of them. The client makes one (a NUID) when the caller does not.
 */
export const JOB_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const JobIdSchema = z
  .string()
  .regex(JOB_ID_PATTERN, "1-64 letters, digits, '_' or '-'")
  .describe("The caller's name for the job, unique per caller");

/** The subject a caller publishes the items of job `jobId` to (JetStream; one message per item). */
export function jobItemsSubject(jobId: string): string {
  return `llm-provider.job_items.${jobId}`;
}

export const JobModeSchema = z
  .enum(["realtime", "provider_batch"])
  .describe(
    "realtime: items are computed as they come; provider_batch (embedding jobs): through the provider's batch API, within hours at its batch price (OpenAI)",
  );
export type JobMode = z.infer<typeof JobModeSchema>;

const JobMetadataSchema = z.record(z.string(), z.string().max(512)).optional();

/** `llm-provider.cmd.create_job`: opens a job; its items are published afterwards, then it is sealed. */
export const CreateJobSchema = z
  .discriminatedUnion("kind", [
    z.strictObject({
      job_id: JobIdSchema,
      kind: z.literal("embedding").describe("What every item asks for: a vector of its input"),
      model: z.string().min(1).max(256),
      dimensions: z.number().int().positive().optional(),
      encoding_format: z
        .enum(["float", "base64"])
        .default("float")
        .describe("How the vectors of the results are written; base64: little-endian float32"),
      metadata: JobMetadataSchema,
      mode: JobModeSchema.default("realtime"),
    }),
    z.strictObject({
      job_id: JobIdSchema,
      kind: z.literal("chat").describe("What every item asks for: the completion of its chat request"),
      model: z.string().min(1).max(256).describe("The model every item's request is sent to"),
      metadata: JobMetadataSchema,
    }),
  ])
  .describe("CreateJob: a durable job whose items are published to JetStream");
export type CreateJob = z.infer<typeof CreateJobSchema>;
export type CreateJobInput = z.input<typeof CreateJobSchema>;
export type JobKind = CreateJob["kind"];

const ItemIdSchema = z.string().regex(REQUEST_ID_PATTERN, REQUEST_ID_RULE).describe("Unique within the job");

export const EmbeddingJobItemSchema = z
  .strictObject({
    id: ItemIdSchema,
    input: z.string().min(1).describe("The text to embed (POL-LLM-004: non-empty)"),
  })
  .describe("EmbeddingJobItem: one input of an embedding job");
export type EmbeddingJobItem = z.infer<typeof EmbeddingJobItemSchema>;

export const ChatJobItemSchema = z
  .strictObject({
    id: ItemIdSchema,
    request: z
      .record(z.string(), z.unknown())
      .describe(
        "A complete_chat request (CompleteChat) without `model`: the job's model answers it. Checked as a request is; a bad one gets an invalid_request result",
      ),
  })
  .describe("ChatJobItem: one chat request of a chat job");
export type ChatJobItem = z.infer<typeof ChatJobItemSchema>;

/**
 * One item of a job: the message body on `llm-provider.job_items.<job_id>`, sent with
 * `Nats-Msg-Id: <msg_id_prefix>:<id>` (`msg_id_prefix` from the job's status) so that a re-publish
 * is dropped by the stream.
 */
export const JobItemSchema = z
  .union([EmbeddingJobItemSchema, ChatJobItemSchema])
  .describe("JobItem: one input of an embedding job, or one request of a chat job");
export type JobItem = z.infer<typeof JobItemSchema>;

/** `llm-provider.cmd.seal_job`: no more items; the job completes when every item has its result. */
export const SealJobSchema = z
  .strictObject({
    job_id: JobIdSchema,
    total_items: z.number().int().nonnegative().describe("How many distinct items were published"),
  })
  .describe("SealJob");
export type SealJob = z.infer<typeof SealJobSchema>;

/** `llm-provider.cmd.cancel_job`, `llm-provider.qry.get_job`: names one job of the caller. */
export const JobRefSchema = z.strictObject({ job_id: JobIdSchema }).describe("JobRef");
export type JobRef = z.infer<typeof JobRefSchema>;

export const JobStateSchema = z
  .enum(["open", "sealed", "completed", "cancelled"])
  .describe(
    "open: items may still come; sealed: the count is known; completed: every item has its result; cancelled: stopped on request",
  );
export type JobState = z.infer<typeof JobStateSchema>;

export const JobUsageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative().describe("0 for embedding jobs"),
  cost: CostSchema.describe("Spent so far"),
});
export type JobUsage = z.infer<typeof JobUsageSchema>;

/** Reply of create_job, seal_job, cancel_job and get_job. */
export const JobStatusSchema = z
  .object({
    job_id: z.string(),
    kind: z.enum(["embedding", "chat"]),
    model: z.string(),
    mode: JobModeSchema.optional(),
    state: JobStateSchema,
    items_subject: z.string().describe("Where the caller publishes the items"),
    msg_id_prefix: z
      .string()
      .describe(
        "Each item's Nats-Msg-Id is `<msg_id_prefix>:<item id>`; known only to the job's caller, so no one else's ids can suppress its items",
      ),
    total_items: z.number().int().nonnegative().nullable().describe("Known once sealed"),
    succeeded: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative().describe("Items whose result is a typed error"),
    usage: JobUsageSchema,
    created_at: z.string(),
    finished_at: z.string().nullable().describe("When it completed or was cancelled"),
  })
  .describe("JobStatus: progress, cost so far and failures of a job");
export type JobStatus = z.infer<typeof JobStatusSchema>;

/** `llm-provider.qry.get_job_results`: a page of results after `after_seq`. */
export const GetJobResultsSchema = z
  .strictObject({
    job_id: JobIdSchema,
    after_seq: z.number().int().nonnegative().default(0).describe("The last `seq` already read"),
    max_results: z.number().int().positive().max(10_000).default(1_000),
  })
  .describe("GetJobResults");
export type GetJobResults = z.infer<typeof GetJobResultsSchema>;
export type GetJobResultsInput = z.input<typeof GetJobResultsSchema>;

const JobResultBase = z.object({
  item_id: z.string(),
  seq: z.number().int().positive().describe("Position in the job's results; pages continue after it"),
});

const EmbeddingResultOkSchema = JobResultBase.extend({
  ok: z.literal(true),
  embedding: z.union([z.array(z.number()), z.string()]).describe("Vector, or base64 float32 LE"),
  model: z.string(),
  provider_id: z.string(),
  cached: z.boolean(),
});
const ChatResultOkSchema = JobResultBase.extend({
  ok: z.literal(true),
  completion: ChatCompletionSchema.describe("The complete_chat reply to the item's request"),
});
const ItemFailedSchema = JobResultBase.extend({
  ok: z.literal(false),
  error: ErrorBodySchema.describe("Why this item failed for good (the dead-letter view)"),
});

export const EmbeddingJobResultSchema = z
  .discriminatedUnion("ok", [EmbeddingResultOkSchema, ItemFailedSchema])
  .describe("EmbeddingJobResult");
export type EmbeddingJobResult = z.infer<typeof EmbeddingJobResultSchema>;
export const ChatJobResultSchema = z
  .discriminatedUnion("ok", [ChatResultOkSchema, ItemFailedSchema])
  .describe("ChatJobResult");
export type ChatJobResult = z.infer<typeof ChatJobResultSchema>;

export const JobItemResultSchema = z
  .union([EmbeddingResultOkSchema, ChatResultOkSchema, ItemFailedSchema])
  .describe("JobItemResult: exactly one per item: a vector, a completion, or a typed error");
export type JobItemResult = z.infer<typeof JobItemResultSchema>;

export const JobResultsPageSchema = z
  .object({
    job_id: z.string(),
    results: z.array(JobItemResultSchema),
    last_seq: z.number().int().nonnegative().describe("Pass as `after_seq` for the next page"),
    state: JobStateSchema,
    complete: z.boolean().describe("Every result of a finished job has been read"),
  })
  .describe("JobResultsPage");
export type JobResultsPage = z.infer<typeof JobResultsPageSchema>;
