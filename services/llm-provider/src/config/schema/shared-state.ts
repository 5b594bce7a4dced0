import { z } from "zod";

// The KV buckets every worker shares: embedding vectors, provider health, breakers, rate budgets.

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

export const IdempotencyConfigSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "complete_chat and generate_embedding with a caller's Request-Id are served at most once per id",
      ),
    bucket: z
      .string()
      .regex(/^[-\w]+$/, "letters, digits, '_' or '-'")
      .default("llm_provider_requests")
      .describe("NATS KV bucket of the request ids, shared by every worker"),
    replicas: z.number().int().min(1).max(5).default(1),
    window_ms: z
      .number()
      .int()
      .positive()
      .default(24 * 60 * 60 * 1000)
      .describe(
        "How long a request id's outcome is kept (the bucket's TTL): a duplicate later is served again",
      ),
    lease_ms: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe("A claim not renewed for this long belongs to a worker that died: a duplicate takes it over"),
    operation_timeout_ms: z
      .number()
      .int()
      .positive()
      .default(2_000)
      .describe("Timeout of one KV or Object Store round trip"),
    inline_max_bytes: z
      .number()
      .int()
      .positive()
      .max(512 * 1024)
      .default(64 * 1024)
      .describe(
        "A stored reply larger than this once compressed goes to the replies Object Store, referenced from its KV record",
      ),
    replies_bucket: z
      .string()
      .regex(/^[-\w]+$/, "letters, digits, '_' or '-'")
      .default("llm_provider_replies")
      .describe("NATS Object Store bucket of the large stored replies (its max_age is window_ms)"),
    replies_max_bytes: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "Size cap of the replies bucket; when full, a large reply is not kept (a duplicate is served again); unset = no cap",
      ),
  })
  .refine((idempotency) => idempotency.lease_ms < idempotency.window_ms, {
    path: ["lease_ms"],
    message: "must be shorter than window_ms",
  });
export type IdempotencyConfig = z.output<typeof IdempotencyConfigSchema>;

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
