import { z } from "zod";

/** QRY-002 GetProviderHealth: the request body of `llm-provider.qry.get_provider_health`. */
export const GetProviderHealthSchema = z
  .strictObject({ provider_id: z.string().min(1).max(64).optional() })
  .describe("QRY-002 GetProviderHealth");
export type GetProviderHealth = z.infer<typeof GetProviderHealthSchema>;

export const RateLimitStatusSchema = z.enum(["OK", "THROTTLED", "BLOCKED"]);

/** Age of a stale answer: an integer of ms, or null when nothing shared was ever read. */
const StaleAgeSchema = z.number().int().nonnegative().nullable();

export const ProviderHealthSchema = z
  .object({
    provider_id: z.string(),
    is_healthy: z.boolean(),
    health_score: z.number().min(0).max(1).describe("1 = healthy; from error rate and latency thresholds"),
    error_count: z.number().int().nonnegative().describe("Errors in the recent window"),
    request_count: z.number().int().nonnegative().describe("Requests in the recent window"),
    average_latency_ms: z.number().nonnegative(),
    last_error: z.string().nullable(),
    last_success_timestamp: z.string().nullable(),
    rate_limit_status: RateLimitStatusSchema,
    updated_at: z.string(),
    stale: z
      .boolean()
      .optional()
      .describe(
        "true: the shared state (the HealthCache bucket, the rate-limit counts) did not answer in time — " +
          "a JetStream leader election, a lost node — and this is the answering worker's last known state, " +
          "with its own recent requests current. Absent when the answer is fresh",
      ),
    stale_age_ms: StaleAgeSchema.optional().describe(
      "With stale: ms since the answering worker last read the shared state it did not get now; " +
        "null when it has not read it since it started (then only its own requests count, and a rate-limit " +
        "count not read is taken as not reached)",
    ),
  })
  .describe("ProviderHealth");
export type ProviderHealth = z.infer<typeof ProviderHealthSchema>;

export const FallbackChainStatusSchema = z.object({
  chain_id: z.string(),
  targets: z.array(z.object({ provider_id: z.string(), model: z.string(), is_healthy: z.boolean() })),
  status: z.enum(["healthy", "degraded", "down"]),
});

export const AggregateHealthSchema = z
  .object({
    is_healthy: z.boolean(),
    health_score: z.number().min(0).max(1),
    providers: z.array(ProviderHealthSchema),
    fallback_chains: z.array(FallbackChainStatusSchema),
    stale: z
      .boolean()
      .optional()
      .describe(
        "true when any provider's answer is stale (see ProviderHealth.stale). Absent when all are fresh",
      ),
    stale_age_ms: StaleAgeSchema.optional().describe(
      "With stale: the largest stale_age_ms of the providers; null when any of theirs is null",
    ),
  })
  .describe("Aggregate health of every provider");

export const ProviderHealthReplySchema = z.union([ProviderHealthSchema, AggregateHealthSchema]);
export type AggregateHealth = z.infer<typeof AggregateHealthSchema>;
