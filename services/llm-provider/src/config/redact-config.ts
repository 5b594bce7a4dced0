import type { Config } from "./schema.js";

/**
 * The config as it may be logged or dumped. It holds only secret *references*, never values,
 * so nothing needs masking; this exists so that a future secret-bearing field has one place to go.
 */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    environment: config.environment,
    nats: { servers: config.nats.servers, name: config.nats.name, auth: authKind(config) },
    service: config.service,
    policy_gateway: config.policy_gateway,
    providers: config.providers.map((p) => ({
      id: p.id,
      provider_type: p.provider_type,
      endpoint: p.endpoint,
      is_active: p.is_active,
      api_key_ref: p.api_key_ref,
    })),
    models: config.models.map((m) => m.model_name),
    fallback_chains: config.fallback_chains.map((c) => ({ id: c.id, models: c.models })),
  };
}

function authKind(config: Config): string {
  if (config.nats.creds_file) return "creds_file";
  if (config.nats.token_ref) return "token";
  if (config.nats.user) return "user/password";
  return "none";
}
