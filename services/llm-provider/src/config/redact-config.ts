import type { Config } from "./schema.js";

/**
 * The config as it may be logged or dumped. Secrets are held as references only; credentials
 * written into NATS server URLs are removed.
 */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    environment: config.environment,
    nats: {
      servers: [config.nats.servers].flat().map(withoutCredentials),
      name: config.nats.name,
      auth: authKind(config),
    },
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

/** `nats://user:pass@host:4222` → `nats://host:4222`: credentials in a URL never reach a log. */
function withoutCredentials(server: string): string {
  return server.replace(/\/\/[^@/]*@/, "//");
}

function authKind(config: Config): string {
  if (config.nats.creds_file) return "creds_file";
  if (config.nats.token_ref) return "token";
  if (config.nats.user) return "user/password";
  return "none";
}
