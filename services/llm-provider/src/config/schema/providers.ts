import { z } from "zod";
import { ProviderTypeSchema } from "@llm-provider/contracts";
import { DEFAULT_BATCH_PRICE_FACTOR } from "../../domain/cost.js";
import { IdentifierSchema, SecretRefSchema } from "./fields.js";

/** Same-target retries per failure class; a class not listed here is never retried on the same target. */
export const RetriesSchema = z
  .strictObject({
    connection: z.number().int().min(0).max(10).default(2).describe("Reset or refused connection"),
    server_error: z.number().int().min(0).max(10).default(1).describe("5xx answered fast"),
    overloaded: z.number().int().min(0).max(10).default(1).describe("503/529 answered fast"),
    rate_limited: z.number().int().min(0).max(10).default(1).describe("429 with no or a short Retry-After"),
    malformed_response: z.number().int().min(0).max(10).default(1),
    timeout: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(0)
      .describe("Silent upstream, stall, no first byte: retried only when no fallback is left"),
  })
  .describe("Same-target retries per failure class (within max_retries)");

const RETRIES_DEFAULT = RetriesSchema.parse({});

const DEFAULT_FIRST_BYTE_TIMEOUT_MS = 8_000;
const DEFAULT_IDLE_TIMEOUT_MS = 15_000;

export const ProviderConfigSchema = z
  .strictObject({
    timeout_ms: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .describe("Longest one non-streamed attempt may take (its whole answer)"),
    first_byte_timeout_ms: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "A streamed attempt with no first piece of the answer by then fails (and may fall back); default 8000",
      ),
    idle_timeout_ms: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Longest gap between two pieces of a stream, or two reads of a response body; default 15000"),
    /** Deprecated name of `first_byte_timeout_ms` (it was for streams only). */
    stream_first_chunk_timeout_ms: z.number().int().positive().optional(),
    /** Deprecated name of `idle_timeout_ms`. */
    stream_idle_timeout_ms: z.number().int().positive().optional(),
    max_retries: z.number().int().min(0).max(10).default(2).describe("Same-target retries in all"),
    retries: RetriesSchema.default(RETRIES_DEFAULT),
    max_retry_after_ms: z
      .number()
      .int()
      .min(0)
      .default(2_000)
      .describe("A Retry-After up to this is waited out on the same target; longer: fall back"),
    slow_failure_ms: z
      .number()
      .int()
      .positive()
      .default(3_000)
      .describe(
        "A failure that took longer than this is not retried on the same target while a fallback is left",
      ),
    retry_initial_backoff_ms: z.number().int().min(0).default(250),
    retry_max_backoff_ms: z.number().int().min(0).default(2_000),
    stream_upstream: z
      .boolean()
      .default(false)
      .describe(
        "complete_chat reads a streaming model's answer as a stream, so first-byte and idle limits apply " +
          "(more CPU per call: server-sent events instead of one JSON body)",
      ),
    rpm: z.number().int().positive().optional().describe("Requests per minute allowed"),
    tpm: z.number().int().positive().optional().describe("Tokens per minute allowed"),
  })
  .transform(({ stream_first_chunk_timeout_ms: firstChunk, stream_idle_timeout_ms: idle, ...config }) => ({
    ...config,
    first_byte_timeout_ms: config.first_byte_timeout_ms ?? firstChunk ?? DEFAULT_FIRST_BYTE_TIMEOUT_MS,
    idle_timeout_ms: config.idle_timeout_ms ?? idle ?? DEFAULT_IDLE_TIMEOUT_MS,
  }));
export type ProviderConfig = z.output<typeof ProviderConfigSchema>;

/**
 * OpenRouter's provider-routing preferences, sent as the request's `provider` object. The known
 * keys are type-checked; other keys pass through, since OpenRouter adds them often and checks them.
 */
export const OpenRouterProviderPreferencesSchema = z.looseObject({
  order: z.array(z.string().min(1)).optional(),
  only: z.array(z.string().min(1)).optional(),
  ignore: z.array(z.string().min(1)).optional(),
  allow_fallbacks: z.boolean().optional(),
  require_parameters: z.boolean().optional(),
  data_collection: z.enum(["allow", "deny"]).optional(),
  zdr: z.boolean().optional(),
  quantizations: z.array(z.string().min(1)).optional(),
  sort: z.union([z.enum(["price", "throughput", "latency"]), z.record(z.string(), z.unknown())]).optional(),
  max_price: z.record(z.string(), z.number().nonnegative()).optional(),
});

/** The provider's batch API (OpenAI Batch, Anthropic Message Batches), used by provider_batch jobs. */
export const ProviderBatchConfigSchema = z
  .strictObject({
    price_factor: z
      .number()
      .positive()
      .max(1)
      .default(DEFAULT_BATCH_PRICE_FACTOR)
      .describe(
        "Share of the models' prices paid in a provider batch (a model's cost.batch_price_factor wins)",
      ),
    poll_interval_ms: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .describe("How often a worker asks the provider where a submitted batch is"),
  })
  .describe("Provider batch API settings (openai and anthropic provider types)");

export const LlmProviderSchema = z
  .strictObject({
    id: IdentifierSchema,
    // Optional here so that POL-LLM-001 reports a missing name with its policy id.
    name: z.string().optional(),
    provider_type: ProviderTypeSchema,
    endpoint: z.url({ protocol: /^https?$/ }),
    api_key_ref: SecretRefSchema.optional(),
    is_active: z.boolean().default(true),
    headers: z.record(z.string(), z.string()).default({}).describe("Extra HTTP headers sent on every call"),
    api_version: z.string().min(1).optional().describe("Azure OpenAI `api-version` (azure_openai only)"),
    openrouter: z
      .strictObject({ provider: OpenRouterProviderPreferencesSchema.optional() })
      .optional()
      .describe("OpenRouter-only request settings (openrouter only)"),
    config: ProviderConfigSchema.default(ProviderConfigSchema.parse({})),
    batch: ProviderBatchConfigSchema.default(ProviderBatchConfigSchema.parse({})),
  })
  .superRefine((provider, context) => {
    const refuse = (field: string, message: string) =>
      context.addIssue({ code: "custom", path: [field], message });
    const azure = provider.provider_type === "azure_openai";
    if (azure && provider.api_version === undefined)
      refuse("api_version", "azure_openai needs an api_version");
    if (azure && provider.api_key_ref === undefined)
      refuse("api_key_ref", "azure_openai needs an api_key_ref");
    if (!azure && provider.api_version !== undefined)
      refuse("api_version", "only azure_openai takes api_version");
    if (provider.provider_type !== "openrouter" && provider.openrouter !== undefined) {
      refuse("openrouter", "only openrouter takes openrouter settings");
    }
  });
export type LlmProviderConfig = z.output<typeof LlmProviderSchema>;
