import { z } from "zod";
import { CALLER_CONTEXT_PATTERN, EVENT_SUBJECTS, ProviderTypeSchema } from "@llm-provider/contracts";
import { DEFAULT_EMBEDDING_BATCH_SIZE } from "../domain/catalog.js";

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

export const LlmProviderSchema = z
  .strictObject({
    id: identifier,
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
    })
    .default({ input_per_million: 0, output_per_million: 0 }),
  features: z
    .strictObject({
      chat: z.boolean().default(true),
      embedding: z.boolean().default(false),
      function_calling: z.boolean().default(false),
      streaming: z.boolean().default(false),
      assistant_prefill: z
        .boolean()
        .default(false)
        .describe("Continues a trailing assistant message (a stream rescued in 'continue' mode)"),
    })
    .default({
      chat: true,
      embedding: false,
      function_calling: false,
      streaming: false,
      assistant_prefill: false,
    }),
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
    linger_ms: z
      .number()
      .int()
      .min(0)
      .max(1_000)
      .default(20)
      .describe(
        "Events no reply waits for are gathered this long (or until 256 wait), then published together; 0 = at the end of the turn",
      ),
    queue_capacity: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe("Events held while JetStream is away"),
    include_content: z.boolean().default(false).describe("Copy prompts and answers into events"),
    delivery: z
      .enum(["before_reply", "after_reply"])
      .default("before_reply")
      .describe(
        "before_reply: a request's reply waits until its event is stored, so no answered request loses " +
          "its event; after_reply: the reply goes at once, and an event still queued dies with its worker",
      ),
    before_reply_max_ms: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe("Longest a reply waits for its event to be stored (never past the request's deadline)"),
    consumers: z
      .array(
        z.strictObject({
          name: z.string().regex(CALLER_CONTEXT_PATTERN, "a lowercase NATS token of at most 32 characters"),
          filter_subject: z.enum(EVENT_SUBJECTS).optional().describe("Only this event type; unset: all"),
          ack_wait_ms: z
            .number()
            .int()
            .positive()
            .default(30_000)
            .describe("Redelivery after this long unacked"),
          max_ack_pending: z.number().int().positive().default(1_000),
        }),
      )
      .default([])
      .describe(
        "Durable pull consumers llm-provider-bootstrap creates for the contexts that read the events " +
          "(their accounts are given them in the NATS configuration)",
      ),
  })
  .refine((events) => events.duplicate_window_ms <= events.max_age_ms, {
    path: ["duplicate_window_ms"],
    message: "must not exceed max_age_ms (JetStream refuses it)",
  });
export type EventsConfig = z.output<typeof EventsConfigSchema>;

export const EmbeddingCacheConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    bucket: z
      .string()
      .regex(/^[-\w]+$/, "letters, digits, '_' or '-'")
      .default("llm_provider_embeddings")
      .describe("NATS KV bucket shared by every worker"),
    ttl_ms: z
      .number()
      .int()
      .positive()
      .default(30 * 24 * 60 * 60 * 1000)
      .describe("Bucket-level TTL of every entry"),
    replicas: z.number().int().min(1).max(5).default(1),
    max_bytes: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Bucket size cap; the oldest entries go first; unset = no cap"),
    claim_timeout_ms: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe("Age after which another worker's claim counts as abandoned and is taken over"),
    wait_timeout_ms: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe("Longest a request waits for another worker's vector before calling the provider itself"),
    operation_timeout_ms: z
      .number()
      .int()
      .positive()
      .default(2_000)
      .describe("Timeout of one KV round trip; past it the request goes on without the cache"),
    memory_max_bytes: z
      .number()
      .int()
      .min(0)
      .default(64 * 1024 * 1024)
      .describe("Recently used vectors each worker also keeps in memory; 0 = none"),
    scope: z
      .enum(["shared", "caller"])
      .default("shared")
      .describe(
        "shared: one vector per text for all callers (a caller can tell a text was embedded before); " +
          "caller: each calling context has its own",
      ),
  })
  .refine((cache) => cache.claim_timeout_ms < cache.ttl_ms, {
    path: ["claim_timeout_ms"],
    message: "must be shorter than ttl_ms (a claim would expire with the bucket's TTL first)",
  });
export type EmbeddingCacheConfig = z.output<typeof EmbeddingCacheConfigSchema>;

export const HealthConfigSchema = z
  .strictObject({
    bucket: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default("llm_provider_health"),
    replicas: z.number().int().min(1).max(5).default(1),
    window_ms: z.number().int().positive().default(60_000).describe("How far back requests count"),
    flush_interval_ms: z
      .number()
      .int()
      .positive()
      .default(2_000)
      .describe("How often a worker writes its view"),
    ttl_ms: z
      .number()
      .int()
      .positive()
      .default(120_000)
      .describe("A silent worker's entries expire after this"),
    max_error_rate: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe("Error rate at which the error part of the score is 0"),
    ok_latency_ms: z.number().int().positive().default(5_000),
    slow_latency_ms: z.number().int().positive().default(30_000),
  })
  .refine((health) => health.flush_interval_ms * 2 <= health.ttl_ms, {
    path: ["flush_interval_ms"],
    message: "must be at most half of ttl_ms, or entries expire between writes",
  });
export type HealthConfig = z.output<typeof HealthConfigSchema>;

export const CircuitBreakerConfigSchema = z
  .strictObject({
    bucket: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default("llm_provider_breakers"),
    replicas: z.number().int().min(1).max(5).default(1),
    failure_threshold: z
      .number()
      .int()
      .positive()
      .default(5)
      .describe("Failures in a row that open a breaker"),
    failure_rate: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .describe("Or: this share of failures over rate_window calls"),
    rate_window: z.number().int().min(2).default(20),
    cooldown_ms: z.number().int().positive().default(30_000).describe("Open time before one probe"),
  })
  .describe("Per-provider circuit breakers, shared by all workers");
export type CircuitBreakerConfig = z.output<typeof CircuitBreakerConfigSchema>;

export const RateLimitsConfigSchema = z
  .strictObject({
    bucket: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default("llm_provider_rate_limits"),
    replicas: z.number().int().min(1).max(5).default(1),
  })
  .describe("Where the providers' RPM/TPM budgets (providers[].config.rpm/tpm) are counted across workers");

export const CallerContextSchema = z
  .strictObject({
    rpm: z.number().int().positive().optional().describe("Requests per minute this context may send"),
    tpm: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "Tokens per minute this context may use: estimated until the provider counted, then its count",
      ),
  })
  .describe("One calling bounded context and its limits, counted across all workers");

export const CallersConfigSchema = z
  .strictObject({
    identity: z
      .enum(["account", "none"])
      .optional()
      .describe(
        "account: callers live in NATS accounts of their own and requests arrive on " +
          "llm-provider.ctx.<context>.…, the context set by the server's per-account export; " +
          "none: one account, every request is from 'anonymous'. Unset: account in production, none in development",
      ),
    contexts: z
      .record(
        z.string().regex(CALLER_CONTEXT_PATTERN, "a lowercase NATS token of at most 32 characters"),
        CallerContextSchema,
      )
      .default({})
      .describe("The contexts served (identity account); others are refused as forbidden"),
    reply_prefixes: z
      .array(z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.$/, "subject tokens ending in '.'"))
      .default([])
      .describe("Reply subject prefixes accepted besides _INBOX. and _R_. (per-user inbox prefixes)"),
  })
  .describe("Who may call the service and how the caller is known");

export const ProbesConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe("Serve GET /livez and /readyz over HTTP"),
    host: z.string().min(1).default("0.0.0.0").describe("Address the probe server binds"),
    port: z.number().int().min(0).max(65_535).default(8080).describe("0 = any free port"),
  })
  .describe("Liveness and readiness for orchestrators (Kubernetes); requests never come this way");

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
      create_state: z
        .boolean()
        .optional()
        .describe(
          "Worker creates the event stream and KV buckets itself (needs JetStream administration rights); " +
            "unset: in development only. Otherwise llm-provider-bootstrap creates them",
        ),
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
  probes: ProbesConfigSchema.default(ProbesConfigSchema.parse({})),
  events: EventsConfigSchema.default(EventsConfigSchema.parse({})),
  embedding_cache: EmbeddingCacheConfigSchema.default(EmbeddingCacheConfigSchema.parse({})),
  health: HealthConfigSchema.default(HealthConfigSchema.parse({})),
  circuit_breaker: CircuitBreakerConfigSchema.default(CircuitBreakerConfigSchema.parse({})),
  rate_limits: RateLimitsConfigSchema.default(RateLimitsConfigSchema.parse({})),
  callers: CallersConfigSchema.default(CallersConfigSchema.parse({})),
  providers: z.array(LlmProviderSchema).min(1),
  models: z.array(ModelConfigSchema).min(1),
  fallback_chains: z.array(FallbackChainSchema).default([]),
});
export type Config = z.output<typeof ConfigSchema>;

/** Whether a worker creates its JetStream state itself, the one place its default is decided. */
export function workerCreatesStateOf(config: Pick<Config, "environment" | "service">): boolean {
  return config.service.create_state ?? config.environment === "development";
}

/** How callers are identified, the one place its default is decided: accounts unless in development. */
export function callerIdentityOf(config: Pick<Config, "environment" | "callers">): "account" | "none" {
  return config.callers.identity ?? (config.environment === "development" ? "none" : "account");
}
export type ConfigInput = z.input<typeof ConfigSchema>;
