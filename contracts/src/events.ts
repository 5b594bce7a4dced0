import { z } from "zod";
import {
  AttemptSchema,
  ChatMessageSchema,
  FinishReasonSchema,
  TokenUsageSchema,
  CostSchema,
} from "./chat.js";
import { ErrorCodeSchema } from "./errors.js";
import { JobUsageSchema } from "./jobs.js";

/**
 * On every event: the live configuration's KV revision in force on the publishing worker when it
 * built the event. Optional, so consumers of older versions keep parsing.
 */
const configRevision = z
  .number()
  .int()
  .positive()
  .optional()
  .describe(
    "KV revision of the live configuration in force on the worker that published the event; absent while it runs on its file alone",
  );

/** Envelope shared by every domain event; `id` is also the JetStream `Nats-Msg-Id`. */
const envelope = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.object({
    id: z.string().describe("Event id, derived from the request id (de-duplication key)"),
    type: z.literal(type),
    source: z.literal("llm-provider"),
    time: z.string().describe("ISO 8601"),
    request_id: z.string().describe("The caller's Request-Id (unique per caller, not across callers)"),
    caller: z
      .string()
      .describe(
        "Calling bounded context, as the NATS server established it (`anonymous` in single-account development)",
      ),
    traceparent: z.string().optional(),
    config_revision: configRevision,
    data,
  });

export const ChatCompletedSchema = envelope(
  "llm-provider.chat_completed.v1",
  z.object({
    completion_id: z.string(),
    model: z.string(),
    provider_id: z.string(),
    finish_reason: FinishReasonSchema,
    usage: TokenUsageSchema,
    latency_ms: z.number().nonnegative(),
    attempts: z.array(AttemptSchema),
    metadata: z.record(z.string(), z.string()).optional(),
    messages: z.array(ChatMessageSchema).optional().describe("Prompt; only with events.include_content"),
    content: z.string().nullable().optional().describe("Answer; only with events.include_content"),
  }),
).describe("ChatCompleted domain event");
export type ChatCompleted = z.infer<typeof ChatCompletedSchema>;

export const EmbeddingGeneratedSchema = envelope(
  "llm-provider.embedding_generated.v1",
  z.object({
    model: z.string(),
    provider_id: z.string(),
    count: z.number().int().positive(),
    cached_count: z.number().int().nonnegative(),
    dimensions: z.number().int().positive(),
    input_refs: z.array(z.string()),
    usage: z.object({ prompt_tokens: z.number().int().nonnegative(), cost: CostSchema }),
    latency_ms: z.number().nonnegative(),
    metadata: z.record(z.string(), z.string()).optional(),
  }),
).describe("EmbeddingGenerated domain event");
export type EmbeddingGenerated = z.infer<typeof EmbeddingGeneratedSchema>;

export const ChatFailedSchema = envelope(
  "llm-provider.chat_failed.v1",
  z.object({
    model: z.string(),
    error_code: ErrorCodeSchema,
    message: z.string(),
    latency_ms: z.number().nonnegative(),
    attempts: z.array(AttemptSchema).describe("Upstream attempts made before giving up"),
    metadata: z.record(z.string(), z.string()).optional(),
  }),
).describe("ChatFailed domain event: a chat request that reached routing and got no answer");
export type ChatFailed = z.infer<typeof ChatFailedSchema>;

const BreakerStateSchema = z.enum(["closed", "open", "half_open"]);

/**
 * Not caused by one request, so no `request_id`: the circuit breaker of a model on a provider
 * opened or closed.
 */
export const ProviderHealthChangedSchema = z
  .object({
    id: z.string().describe("Derived from provider, new state and the time it changed (de-duplication key)"),
    type: z.literal("llm-provider.provider_health_changed.v1"),
    source: z.literal("llm-provider"),
    time: z.string().describe("ISO 8601"),
    config_revision: configRevision,
    data: z.object({
      provider_id: z.string(),
      upstream_model: z
        .string()
        .optional()
        .describe(
          "The model, by the name the provider knows it, whose breaker changed (breakers are per model)",
        ),
      from: BreakerStateSchema,
      to: BreakerStateSchema,
      is_available: z.boolean().describe("Whether requests are sent to this model on the provider now"),
      retry_after_ms: z.number().int().nonnegative().describe("Until a probe may go, when open"),
    }),
  })
  .describe(
    "ProviderHealthChanged domain event: a circuit breaker of a model on a provider opened or closed",
  );
export type ProviderHealthChanged = z.infer<typeof ProviderHealthChangedSchema>;

const SpendAmountSchema = z.object({
  usd: z.number().nonnegative().optional(),
  tokens: z.number().int().nonnegative().optional(),
});

/** Not caused by one request, so no `request_id`: a caller's budget reached 80 % or 100 %. */
export const BudgetThresholdReachedSchema = z
  .object({
    id: z
      .string()
      .describe(
        "Derived from the caller, the budget, its period and the threshold: one per threshold and period (de-duplication key)",
      ),
    type: z.literal("llm-provider.budget_threshold_reached.v1"),
    source: z.literal("llm-provider"),
    time: z.string().describe("ISO 8601"),
    caller: z.string().describe("Calling bounded context whose budget it is"),
    config_revision: configRevision,
    data: z.object({
      budget: z.number().int().nonnegative().describe("Index in callers.contexts.<caller>.budgets"),
      period: z.enum(["day", "month"]),
      period_start: z.string().describe("UTC day (YYYY-MM-DD) or month (YYYY-MM)"),
      model: z.string().optional().describe("The model the budget is for; absent: all models"),
      metadata: z
        .record(z.string(), z.string())
        .optional()
        .describe("The tags the budget counts requests by; absent: every request"),
      threshold_percent: z.union([z.literal(80), z.literal(100)]),
      spent: SpendAmountSchema.describe("Spent in the period when the threshold was reached"),
      limit: SpendAmountSchema,
    }),
  })
  .describe(
    "BudgetThresholdReached domain event: a caller's spend in a period reached 80 % or 100 % of one of its budgets",
  );
export type BudgetThresholdReached = z.infer<typeof BudgetThresholdReachedSchema>;

/** Envelope of the job events: about a caller's job, not one request. */
const jobEnvelope = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.object({
    id: z.string().describe("Derived from the caller, the job and what happened (de-duplication key)"),
    type: z.literal(type),
    source: z.literal("llm-provider"),
    time: z.string().describe("ISO 8601"),
    caller: z.string().describe("Calling bounded context that owns the job"),
    job_id: z.string(),
    config_revision: configRevision,
    data,
  });

const JobCountsSchema = z.object({
  total_items: z.number().int().nonnegative().nullable().describe("Known once the job is sealed"),
  succeeded: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
});

export const JobProgressSchema = jobEnvelope(
  "llm-provider.job_progress.v1",
  JobCountsSchema.extend({
    percent: z.number().int().min(10).max(90).describe("The tenth of the items just passed"),
  }),
).describe("JobProgress domain event: a sealed job passed another tenth of its items");
export type JobProgress = z.infer<typeof JobProgressSchema>;

export const JobFinishedSchema = jobEnvelope(
  "llm-provider.job_finished.v1",
  JobCountsSchema.extend({
    state: z.enum(["completed", "cancelled"]),
    model: z.string(),
    usage: JobUsageSchema,
    metadata: z.record(z.string(), z.string()).optional(),
  }),
).describe("JobFinished domain event: every item of a job has its result, or the job was cancelled");
export type JobFinished = z.infer<typeof JobFinishedSchema>;

export type DomainEvent =
  | ChatCompleted
  | EmbeddingGenerated
  | ChatFailed
  | ProviderHealthChanged
  | JobProgress
  | JobFinished
  | BudgetThresholdReached;
