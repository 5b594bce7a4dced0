import { z } from "zod";
import { SpendConfigSchema } from "./schema/budgets.js";
import { CallersConfigSchema } from "./schema/callers.js";
import { EventsConfigSchema } from "./schema/events.js";
import { JobsConfigSchema } from "./schema/jobs.js";
import { FallbackChainSchema, LoadBalancingConfigSchema, ModelConfigSchema } from "./schema/models.js";
import { ResumableStreamsConfigSchema } from "./schema/resumable-streams.js";
import { LlmProviderSchema } from "./schema/providers.js";
import {
  CircuitBreakerConfigSchema,
  EmbeddingCacheConfigSchema,
  HealthConfigSchema,
  IdempotencyConfigSchema,
  RateLimitsConfigSchema,
} from "./schema/shared-state.js";
import {
  LiveConfigSchema,
  NatsConnectionConfigSchema,
  PolicyGatewayConfigSchema,
  ProbesConfigSchema,
  ServiceConfigSchema,
} from "./schema/worker.js";

// The configuration's top level. Each section's schema lives in schema/ and is re-exported here,
// so the rest of the service imports the configuration from this one module.
export { BudgetSchema, SpendConfigSchema } from "./schema/budgets.js";
export type { BudgetConfig, SpendConfig } from "./schema/budgets.js";
export { CallerContextSchema, CallersConfigSchema } from "./schema/callers.js";
export { EventsConfigSchema } from "./schema/events.js";
export type { EventsConfig } from "./schema/events.js";
export { SecretRefSchema } from "./schema/fields.js";
export type { SecretRef } from "./schema/fields.js";
export { JobsConfigSchema } from "./schema/jobs.js";
export type { JobsConfig } from "./schema/jobs.js";
export { FallbackChainSchema, LoadBalancingConfigSchema, ModelConfigSchema } from "./schema/models.js";
export { ResumableStreamsConfigSchema } from "./schema/resumable-streams.js";
export type { ResumableStreamsConfig } from "./schema/resumable-streams.js";
export type { FallbackChainConfig, LoadBalancingConfig, ModelConfig } from "./schema/models.js";
export {
  LlmProviderSchema,
  OpenRouterProviderPreferencesSchema,
  ProviderBatchConfigSchema,
  ProviderConfigSchema,
  RetriesSchema,
} from "./schema/providers.js";
export type { LlmProviderConfig, ProviderConfig } from "./schema/providers.js";
export {
  CircuitBreakerConfigSchema,
  EmbeddingCacheConfigSchema,
  HealthConfigSchema,
  IdempotencyConfigSchema,
  RateLimitsConfigSchema,
} from "./schema/shared-state.js";
export type {
  CircuitBreakerConfig,
  EmbeddingCacheConfig,
  HealthConfig,
  IdempotencyConfig,
} from "./schema/shared-state.js";
export { LiveConfigSchema, ProbesConfigSchema } from "./schema/worker.js";

export const ConfigSchema = z.strictObject({
  environment: z.enum(["development", "production"]).default("production"),
  log_level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  nats: NatsConnectionConfigSchema.default(NatsConnectionConfigSchema.parse({})),
  service: ServiceConfigSchema.default(ServiceConfigSchema.parse({})),
  policy_gateway: PolicyGatewayConfigSchema.default(PolicyGatewayConfigSchema.parse({})),
  probes: ProbesConfigSchema.default(ProbesConfigSchema.parse({})),
  events: EventsConfigSchema.default(EventsConfigSchema.parse({})),
  embedding_cache: EmbeddingCacheConfigSchema.default(EmbeddingCacheConfigSchema.parse({})),
  health: HealthConfigSchema.default(HealthConfigSchema.parse({})),
  idempotency: IdempotencyConfigSchema.default(IdempotencyConfigSchema.parse({})),
  jobs: JobsConfigSchema.default(JobsConfigSchema.parse({})),
  resumable_streams: ResumableStreamsConfigSchema.default(ResumableStreamsConfigSchema.parse({})),
  circuit_breaker: CircuitBreakerConfigSchema.default(CircuitBreakerConfigSchema.parse({})),
  rate_limits: RateLimitsConfigSchema.default(RateLimitsConfigSchema.parse({})),
  callers: CallersConfigSchema.default(CallersConfigSchema.parse({})),
  live_config: LiveConfigSchema.default(LiveConfigSchema.parse({})),
  spend: SpendConfigSchema.default(SpendConfigSchema.parse({})),
  providers: z.array(LlmProviderSchema).min(1),
  models: z.array(ModelConfigSchema).min(1),
  fallback_chains: z.array(FallbackChainSchema).default([]),
  load_balancing: LoadBalancingConfigSchema.default(LoadBalancingConfigSchema.parse({})),
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
