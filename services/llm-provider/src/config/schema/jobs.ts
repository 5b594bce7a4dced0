import { z } from "zod";

const streamName = z.string().regex(/^[A-Za-z0-9_-]+$/);
/** The longest backoff between two deliveries of an item (domain/jobs.ts decideOnBatchFailure). */
const MAX_BACKOFF_MS = 60_000;

/** Durable jobs: items in a work-queue stream, results in a stream of their own, jobs in a KV bucket. */
export const JobsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    items_stream: streamName.default("LLM_PROVIDER_JOB_ITEMS"),
    results_stream: streamName.default("LLM_PROVIDER_JOB_RESULTS"),
    bucket: streamName.default("llm_provider_jobs").describe("KV bucket of the job records"),
    consumer: streamName
      .default("llm-provider-job-workers")
      .describe("The durable pull consumer all workers share"),
    replicas: z.number().int().min(1).max(5).default(1),
    retention_ms: z
      .number()
      .int()
      .positive()
      .default(7 * 86_400_000)
      .describe("How long items, results and job records are kept"),
    duplicate_window_ms: z
      .number()
      .int()
      .positive()
      .default(3_600_000)
      .describe("Re-published items and re-written results are dropped within it"),
    max_ack_pending: z
      .number()
      .int()
      .positive()
      .default(4_096)
      .describe("Items handed out and not yet acknowledged, across every worker"),
    ack_wait_ms: z.number().int().min(1_000).default(60_000),
    max_deliveries: z
      .number()
      .int()
      .min(1)
      .default(8)
      .describe("Tries of an item before a retryable failure becomes its result"),
    retry_base_ms: z
      .number()
      .int()
      .positive()
      .default(1_000)
      .describe("First backoff of a retryable failure"),
    batch_items: z.number().int().min(1).max(2_048).default(256).describe("Items per upstream batch at most"),
    linger_ms: z
      .number()
      .int()
      .nonnegative()
      .default(20)
      .describe("How long a partial batch waits for more items of its job"),
    concurrent_batches: z.number().int().min(1).default(4).describe("Batches one worker runs at once"),
    chat_concurrency: z
      .number()
      .int()
      .min(1)
      .max(256)
      .default(8)
      .describe("Items of a chat job's batch answered at once (a chat request has no batch form)"),
    batch_timeout_ms: z.number().int().min(1_000).default(120_000),
    provider_batch_lease_ms: z
      .number()
      .int()
      .min(1_000)
      .default(120_000)
      .describe(
        "How long a worker's claim on a provider batch it polls holds; past it another worker takes over",
      ),
  })
  .refine((jobs) => jobs.ack_wait_ms > jobs.linger_ms * 10, {
    path: ["ack_wait_ms"],
    message: "must be far longer than linger_ms",
  })
  // JetStream refuses a duplicate window longer than what the stream keeps.
  .refine((jobs) => jobs.duplicate_window_ms <= jobs.retention_ms, {
    path: ["duplicate_window_ms"],
    message: "must not exceed retention_ms",
  })
  // An item handed out again (its worker died, or a batch failed) may get its result as late as
  // every delivery's wait, run and backoff: a second result must still fall within the window.
  .refine(
    (jobs) =>
      jobs.duplicate_window_ms >=
      jobs.max_deliveries * (jobs.ack_wait_ms + jobs.batch_timeout_ms + MAX_BACKOFF_MS),
    {
      path: ["duplicate_window_ms"],
      message:
        "must cover max_deliveries × (ack_wait_ms + batch_timeout_ms + 60 s), or an item could get two results",
    },
  );
export type JobsConfig = z.output<typeof JobsConfigSchema>;
