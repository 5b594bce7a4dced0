import type { Agent } from "undici";
import type { Logger } from "pino";
import { ConfigError } from "../config/load-config.js";
import type { Config } from "../config/schema.js";
import { describeSecretRef, resolveSecret } from "../config/secrets.js";
import type { ConfigProblem } from "../domain/catalog.js";
import { createUndiciFetch } from "../infra/http/undici-fetch.js";
import type { ProviderClient } from "../ports/provider-client.js";
import { createProviderClient, hasWire } from "../providers/create-provider-client.js";
import { instrumentProviderClient } from "../telemetry/instrument-provider-client.js";

/** A traced client for every active provider whose key is present and whose wire exists, by id. */
export function buildProviderClients(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  dispatcher: Agent,
): Map<string, ProviderClient> {
  const apiKeys = resolveProviderKeys(config, env, logger);
  const clients = new Map<string, ProviderClient>();
  for (const provider of config.providers) {
    if (!provider.is_active || !apiKeys.usable.has(provider.id)) continue;
    const fetch = createUndiciFetch(dispatcher, { idleMs: provider.config.idle_timeout_ms });
    const client = createProviderClient(provider, { apiKey: apiKeys.values.get(provider.id), fetch });
    if (client) clients.set(provider.id, instrumentProviderClient(client, provider));
    else
      logger.warn(
        { provider_id: provider.id, provider_type: provider.provider_type },
        "wire not available yet; provider unavailable",
      );
  }
  return clients;
}

/**
 * Reads every provider's API key once. A missing key refuses start-up in production; in
 * development the provider is only marked unavailable, so a partial local setup still runs.
 */
function resolveProviderKeys(config: Config, env: NodeJS.ProcessEnv, logger: Logger) {
  const values = new Map<string, string>();
  const usable = new Set<string>();
  const problems: ConfigProblem[] = [];
  config.providers.forEach((provider, index) => {
    // A provider this version cannot call needs no key (it is reported unavailable anyway).
    if (!hasWire(provider.provider_type)) return;
    if (!provider.api_key_ref) {
      usable.add(provider.id);
      return;
    }
    const key = resolveSecret(provider.api_key_ref, env);
    if (key !== undefined) {
      values.set(provider.id, key);
      usable.add(provider.id);
      return;
    }
    if (!provider.is_active) return;
    const message = `API key ${describeSecretRef(provider.api_key_ref)} of provider '${provider.id}' is not set`;
    if (config.environment === "production")
      problems.push({ field: `providers[${index}].api_key_ref`, message });
    else logger.warn({ provider_id: provider.id }, `${message}; provider unavailable`);
  });
  if (problems.length > 0) throw new ConfigError("secrets", problems);
  return { values, usable };
}
