import { z } from "zod";

/** QRY-002 GetProviderHealth: the request body of `llm-provider.qry.get_provider_health`. */
export const GetProviderHealthSchema = z
  .strictObject({ provider_id: z.string().min(1).max(64).optional() })
  .describe("QRY-002 GetProviderHealth");
export type GetProviderHealth = z.infer<typeof GetProviderHealthSchema>;

export const RateLimitStatusSchema = z.enum(["OK", "THROTTLED", "BLOCKED"]);

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
  })
  .describe("Aggregate health of every provider");

export const ProviderHealthReplySchema = z.union([ProviderHealthSchema, AggregateHealthSchema]);
export type AggregateHealth = z.infer<typeof AggregateHealthSchema>;
