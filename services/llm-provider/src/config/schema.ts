import { z } from "zod";
import { ProviderTypeSchema } from "@llm-provider/contracts";

/**
 * Where a secret comes from: `env:NAME`, `file:/path`, or `{ env }` / `{ file }`.
 * The secret itself never appears in the configuration.
 */
export const SecretRefSchema = z.union([
  z
    .string()
    .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/, "must be env:NAME or file:/path")
    .transform((ref): { env: string } | { file: string } =>
      ref.startsWith("env:") ? { env: ref.slice("env:".length) } : { file: ref.slice("file:".length) },
    ),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }),
  z.strictObject({ file: z.string().min(1) }),
]);
export type SecretRef = z.output<typeof SecretRefSchema>;

const identifier = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "lowercase letters, digits, '_', '.', '-'");

export const ProviderConfigSchema = z.strictObject({
  timeout_ms: z.number().int().positive().default(60_000).describe("Per-attempt timeout"),
  max_retries: z.number().int().min(0).max(10).default(2).describe("Retries of a transient failure"),
  retry_initial_backoff_ms: z.number().int().min(0).default(500),
  retry_max_backoff_ms: z.number().int().min(0).default(8_000),
  rpm: z.number().int().positive().optional().describe("Requests per minute allowed"),
  tpm: z.number().int().positive().optional().describe("Tokens per minute allowed"),
});
export type ProviderConfig = z.output<typeof ProviderConfigSchema>;

export const LlmProviderSchema = z.strictObject({
  id: identifier,
  // Optional here so that POL-LLM-001 reports a missing name with its policy id.
  name: z.string().optional(),
  provider_type: ProviderTypeSchema,
  endpoint: z.url({ protocol: /^https?$/ }),
  api_key_ref: SecretRefSchema.optional(),
  is_active: z.boolean().default(true),
  headers: z.record(z.string(), z.string()).default({}).describe("Extra HTTP headers sent on every call"),
  config: ProviderConfigSchema.default(ProviderConfigSchema.parse({})),
});
export type LlmProviderConfig = z.output<typeof LlmProviderSchema>;

export const ModelConfigSchema = z.strictObject({
  model_name: z.string().min(1).max(256).describe("Name callers use; unique"),
  provider_id: identifier,
  upstream_model: z.string().min(1).optional().describe("Name sent to the provider; defaults to model_name"),
  context_window: z.number().int().positive(),
  // Not `.positive()` here so that POL-LLM-002 reports it with its policy id.
  max_tokens: z.number().int(),
  cost: z
    .strictObject({
      input_per_million: z.number().nonnegative().default(0),
      output_per_million: z.number().nonnegative().default(0),
    })
    .default({ input_per_million: 0, output_per_million: 0 }),
  features: z
    .strictObject({
      chat: z.boolean().default(true),
      embedding: z.boolean().default(false),
      function_calling: z.boolean().default(false),
      streaming: z.boolean().default(false),
    })
    .default({ chat: true, embedding: false, function_calling: false, streaming: false }),
  dimensions: z.number().int().positive().optional().describe("Vector length of an embedding model"),
});
export type ModelConfig = z.output<typeof ModelConfigSchema>;

export const FallbackChainSchema = z.strictObject({
  id: identifier,
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

export const EventsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    stream: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' or '-'")
      .default("LLM_PROVIDER_EVENTS"),
    replicas: z.number().int().min(1).max(5).default(1),
    max_age_ms: z
      .number()
      .int()
      .positive()
      .default(7 * 24 * 60 * 60 * 1000),
    max_bytes: z.number().int().positive().optional().describe("Stream size cap; unset = no cap"),
    duplicate_window_ms: z
      .number()
      .int()
      .positive()
      .default(120_000)
      .describe("Nats-Msg-Id de-duplication window"),
    publish_timeout_ms: z.number().int().positive().default(5_000),
    queue_capacity: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe("Events held while JetStream is away"),
    include_content: z.boolean().default(false).describe("Copy prompts and answers into events"),
  })
  .refine((events) => events.duplicate_window_ms <= events.max_age_ms, {
    path: ["duplicate_window_ms"],
    message: "must not exceed max_age_ms (JetStream refuses it)",
  });
export type EventsConfig = z.output<typeof EventsConfigSchema>;

export const ConfigSchema = z.strictObject({
  environment: z.enum(["development", "production"]).default("production"),
  log_level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  nats: z
    .strictObject({
      servers: z
        .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
        .default("nats://127.0.0.1:4222"),
      name: z.string().default("llm-provider"),
      user: z.string().optional(),
      password_ref: SecretRefSchema.optional(),
      token_ref: SecretRefSchema.optional(),
      creds_file: z.string().optional(),
    })
    .default({ servers: "nats://127.0.0.1:4222", name: "llm-provider" }),
  service: z
    .strictObject({
      queue_group: z.string().min(1).default("llm-provider"),
      max_in_flight: z.number().int().positive().max(100_000).default(256),
      max_request_bytes: z.number().int().positive().default(1_048_576),
      default_timeout_ms: z.number().int().positive().default(60_000),
      shutdown_grace_ms: z.number().int().min(0).default(10_000),
    })
    .default({
      queue_group: "llm-provider",
      max_in_flight: 256,
      max_request_bytes: 1_048_576,
      default_timeout_ms: 60_000,
      shutdown_grace_ms: 10_000,
    }),
  policy_gateway: z
    .strictObject({
      bypass: z
        .boolean()
        .default(false)
        .describe("Skip the gateway; allowed only in development (POL-LLM-005)"),
      subject: z.string().min(1).default("policy-gateway.cmd.evaluate"),
      timeout_ms: z.number().int().positive().default(2_000),
      breaker_failure_threshold: z
        .number()
        .int()
        .positive()
        .default(5)
        .describe("Failures in a row that open it"),
      breaker_cooldown_ms: z.number().int().positive().default(5_000).describe("Open time before one probe"),
    })
    .default({
      bypass: false,
      subject: "policy-gateway.cmd.evaluate",
      timeout_ms: 2_000,
      breaker_failure_threshold: 5,
      breaker_cooldown_ms: 5_000,
    }),
  events: EventsConfigSchema.default(EventsConfigSchema.parse({})),
  providers: z.array(LlmProviderSchema).min(1),
  models: z.array(ModelConfigSchema).min(1),
  fallback_chains: z.array(FallbackChainSchema).default([]),
});
export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
