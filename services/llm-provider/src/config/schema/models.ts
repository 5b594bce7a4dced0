import { z } from "zod";
import { DEFAULT_EMBEDDING_BATCH_SIZE, DEFAULT_MODEL_FEATURES } from "../../domain/catalog.js";
import { BALANCING_STRATEGIES } from "@llm-provider/contracts";
import { IdentifierSchema } from "./fields.js";

export const BalancingStrategySchema = z
  .enum(BALANCING_STRATEGIES)
  .describe(
    "How requests for a model served by several deployments are spread: by weight, to the least busy, " +
      "to the fastest, or by prompt prefix so that the provider's prompt cache hits",
  );

export const ModelConfigSchema = z.strictObject({
  model_name: z
    .string()
    .min(1)
    .max(256)
    .describe("Name callers use; entries that repeat it on other providers are its deployments"),
  provider_id: IdentifierSchema,
  weight: z
    .number()
    .positive()
    .max(1_000_000)
    .default(1)
    .describe("This deployment's share of its model's traffic, relative to the model's other deployments"),
  balancing: BalancingStrategySchema.optional().describe(
    "Strategy of this model's deployments (set on its first entry); unset: load_balancing.strategy",
  ),
  upstream_model: z.string().min(1).optional().describe("Name sent to the provider; defaults to model_name"),
  is_available: z
    .boolean()
    .default(true)
    .describe("false: taken out of service (planned as skipped, model_unavailable) without removing it"),
  catalog: z
    .union([z.boolean(), z.string().regex(/^[a-z0-9-]+\/.+$/, 'must be "<provider>/<model>"')])
    .optional()
    .describe(
      "Take what this entry leaves out (limits, prices, capabilities) from the pinned models.dev catalogue: " +
        'true looks upstream_model up under the provider type; "<provider>/<model>" names the entry',
    ),
  context_window: z.number().int().positive(),
  // Not `.positive()` here so that POL-LLM-002 reports it with its policy id.
  max_tokens: z.number().int(),
  cost: z
    .strictObject({
      input_per_million: z.number().nonnegative().default(0),
      output_per_million: z.number().nonnegative().default(0),
      cache_read_per_million: z
        .number()
        .nonnegative()
        .optional()
        .describe("Prompt tokens read from the provider's cache; unset: input price"),
      cache_write_per_million: z
        .number()
        .nonnegative()
        .optional()
        .describe("Prompt tokens written to the provider's cache; unset: input price"),
      reasoning_per_million: z
        .number()
        .nonnegative()
        .optional()
        .describe("Reasoning tokens, where priced apart; unset: output price"),
      batch_price_factor: z
        .number()
        .positive()
        .max(1)
        .optional()
        .describe(
          "Share of these prices paid in a provider batch job; unset: the provider's batch.price_factor",
        ),
    })
    .default({ input_per_million: 0, output_per_million: 0 }),
  features: z
    .strictObject({
      chat: z.boolean().default(DEFAULT_MODEL_FEATURES.chat),
      embedding: z.boolean().default(DEFAULT_MODEL_FEATURES.embedding),
      function_calling: z.boolean().default(DEFAULT_MODEL_FEATURES.function_calling),
      streaming: z.boolean().default(DEFAULT_MODEL_FEATURES.streaming),
      assistant_prefill: z
        .boolean()
        .default(DEFAULT_MODEL_FEATURES.assistant_prefill)
        .describe("Continues a trailing assistant message (a stream rescued in 'continue' mode)"),
      vision: z.boolean().default(DEFAULT_MODEL_FEATURES.vision).describe("Takes image_url parts"),
      files: z.boolean().default(DEFAULT_MODEL_FEATURES.files).describe("Takes file parts (PDF, plain text)"),
      reasoning: z
        .boolean()
        .default(DEFAULT_MODEL_FEATURES.reasoning)
        .describe("Takes reasoning_effort and thinking"),
      prompt_caching: z
        .boolean()
        .default(DEFAULT_MODEL_FEATURES.prompt_caching)
        .describe("Honours cache_control breakpoints (Anthropic, and those OpenRouter passes on)"),
      structured_output: z
        .boolean()
        .default(DEFAULT_MODEL_FEATURES.structured_output)
        .describe("Takes response_format json_schema; false refuses it (and skips the model as a fallback)"),
    })
    .default({ ...DEFAULT_MODEL_FEATURES }),
  ollama: z
    .strictObject({
      num_ctx: z
        .number()
        .int()
        .positive()
        .optional()
        .describe("Context length Ollama runs the model with; unset: context_window"),
      keep_alive: z
        .union([
          z
            .string()
            .regex(/^(-?\d+(\.\d+)?(ms|s|m|h))+$|^0$/, "must be a duration with a unit (5m, 1h, 90s) or 0"),
          z.number().int(),
        ])
        .optional()
        .describe(
          "How long Ollama keeps the model loaded after a call: a duration, or seconds (-1: always); unset: Ollama's",
        ),
    })
    .optional()
    .describe("Ollama run options of this model"),
  timeouts: z
    .strictObject({
      timeout_ms: z.number().int().positive().optional(),
      first_byte_timeout_ms: z.number().int().positive().optional(),
      idle_timeout_ms: z.number().int().positive().optional(),
    })
    .optional()
    .describe("This model's own limits (e.g. a reasoning model's longer first byte); unset: the provider's"),
  dimensions: z.number().int().positive().optional().describe("Vector length of an embedding model"),
  configurable_dimensions: z
    .boolean()
    .default(false)
    .describe("Honours a `dimensions` request field: any length up to `dimensions`"),
  max_batch_size: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_EMBEDDING_BATCH_SIZE)
    .describe("Most inputs the provider takes in one embeddings call"),
});
export type ModelConfig = z.output<typeof ModelConfigSchema>;

export const FallbackChainSchema = z.strictObject({
  id: IdentifierSchema,
  models: z
    .array(z.string().min(1))
    .min(2)
    .describe("Ordered targets; a request for the first one may fall back"),
  triggers: z
    .strictObject({
      error: z.boolean().default(true),
      rate_limit: z.boolean().default(true),
      timeout: z.boolean().default(true),
    })
    .default({ error: true, rate_limit: true, timeout: true }),
});
export type FallbackChainConfig = z.output<typeof FallbackChainSchema>;

export const LoadBalancingConfigSchema = z
  .strictObject({
    strategy: BalancingStrategySchema.default("weighted").describe(
      "Strategy of a model with several deployments whose first entry names none",
    ),
    latency_tolerance: z
      .number()
      .min(0)
      .max(10)
      .default(0.2)
      .describe("lowest_latency: deployments within this share of the fastest one's latency split by weight"),
    affinity_prefix_chars: z
      .number()
      .int()
      .min(256)
      .default(4_096)
      .describe(
        "prompt_cache_affinity: characters of the prompt (tools, then messages) that pick the deployment; " +
          "a shorter prompt is routed by weight",
      ),
  })
  .describe("How the deployments of one model (entries of the same model_name) share its traffic");
export type LoadBalancingConfig = z.output<typeof LoadBalancingConfigSchema>;
