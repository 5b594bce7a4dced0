import { z } from "zod";

export const ProviderTypeSchema = z.enum([
  "openai",
  "anthropic",
  "ollama",
  "openrouter",
  "litellm",
  "azure_openai",
  "openai_compatible",
]);
export type ProviderType = z.infer<typeof ProviderTypeSchema>;

export const FeatureFlagsSchema = z.object({
  chat: z.boolean(),
  embedding: z.boolean(),
  function_calling: z.boolean(),
  streaming: z.boolean(),
  assistant_prefill: z
    .boolean()
    .optional()
    .describe("Continues a trailing assistant message: a stream cut mid-answer may be continued on it"),
});
export type FeatureFlags = z.infer<typeof FeatureFlagsSchema>;

/** What a model can take, as list_models reports it: a request needing more is refused before any call. */
export const ModelCapabilitiesSchema = z.object({
  vision: z.boolean().describe("Takes image_url parts"),
  files: z.boolean().describe("Takes file parts (PDF, plain text)"),
  reasoning: z.boolean().describe("Takes reasoning_effort / thinking"),
  prompt_caching: z
    .boolean()
    .describe("Honours cache_control breakpoints (else they are ignored with a warning)"),
  tools: z.boolean().describe("Takes tools / functions"),
  structured_output: z.boolean().describe("Takes response_format json_schema"),
  streaming: z.boolean().describe("Serves stream_chat"),
});
export type ModelCapabilities = z.infer<typeof ModelCapabilitiesSchema>;

export const CostMetricsSchema = z.object({
  currency: z.literal("USD"),
  input_per_million: z.number().nonnegative(),
  output_per_million: z.number().nonnegative(),
  cache_read_per_million: z.number().nonnegative().optional().describe("Unset: the input price"),
  cache_write_per_million: z.number().nonnegative().optional().describe("Unset: the input price"),
  reasoning_per_million: z.number().nonnegative().optional().describe("Unset: the output price"),
});

/** QRY-001 ListAvailableModels: the request body of `llm-provider.qry.list_models`. */
export const ListAvailableModelsSchema = z
  .strictObject({ provider_id: z.string().min(1).max(64).optional() })
  .describe("QRY-001 ListAvailableModels");
export type ListAvailableModels = z.infer<typeof ListAvailableModelsSchema>;

/** How the deployments of one model (one per provider) share its requests. */
export const BALANCING_STRATEGIES = [
  "weighted",
  "least_busy",
  "lowest_latency",
  "prompt_cache_affinity",
] as const;
export type BalancingStrategy = (typeof BALANCING_STRATEGIES)[number];

/** ModelSpec in OpenAI's model-object shape (`id`, `object`, `created`, `owned_by`) plus our fields. */
export const ModelSpecSchema = z
  .object({
    id: z.string(),
    object: z.literal("model"),
    created: z.number().int().describe("Unix seconds when this configuration was loaded"),
    owned_by: z.string().describe("provider_id, as OpenAI's list format expects an owner"),
    model_name: z.string(),
    provider_id: z.string(),
    provider_name: z.string(),
    provider_type: ProviderTypeSchema,
    context_window: z.number().int().positive(),
    max_tokens: z.number().int().positive(),
    dimensions: z.number().int().positive().optional(),
    cost_metrics: CostMetricsSchema,
    feature_flags: FeatureFlagsSchema,
    capabilities: ModelCapabilitiesSchema,
    is_available: z.boolean().describe("At least one of its deployments can take requests now"),
    deployments: z
      .array(
        z.object({
          provider_id: z.string(),
          provider_type: ProviderTypeSchema,
          weight: z.number().positive(),
          is_available: z.boolean(),
        }),
      )
      .optional()
      .describe(
        "Where a model served by several providers is deployed (the first is the one described above)",
      ),
    balancing: z
      .enum(BALANCING_STRATEGIES)
      .optional()
      .describe("How a model with several deployments spreads its requests over them"),
  })
  .describe("ModelSpec");
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

export const ModelListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(ModelSpecSchema),
    config_revision: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "KV revision of the live configuration in force; absent while the worker runs on its file alone",
      ),
  })
  .describe("Reply of llm-provider.qry.list_models");
export type ModelList = z.infer<typeof ModelListSchema>;
