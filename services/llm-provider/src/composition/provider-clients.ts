import type { Agent } from "undici";
import type { Logger } from "pino";
import { ConfigError } from "../config/load-config.js";
import type { Config } from "../config/schema.js";
import { describeSecretRef, resolveSecret } from "../config/secrets.js";
import type { ConfigProblem, TargetSkip } from "../domain/catalog.js";
import { createUndiciFetch } from "../infra/http/undici-fetch.js";
import type { ProviderBatchClient } from "../ports/provider-batch-client.js";
import type { ProviderClient } from "../ports/provider-client.js";
import { createProviderBatchClient } from "../providers/create-provider-batch-client.js";
import { createProviderClient, hasWire } from "../providers/create-provider-client.js";
import { instrumentProviderClient } from "../telemetry/instrument-provider-client.js";

/** The providers this worker can call, and why each active one it cannot call cannot be. */
export interface ProviderClients {
  clients: Map<string, ProviderClient>;
  withoutClient: Map<string, TargetSkip>;
  /** The batch API clients of the callable providers that have one (provider_batch jobs). */
  batchClients: Map<string, ProviderBatchClient>;
}

/** A traced client for every active provider whose key is present and whose wire exists, by id. */
export function buildProviderClients(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  dispatcher: Agent,
): ProviderClients {
  const apiKeys = resolveProviderKeys(config, env, logger);
  const clients = new Map<string, ProviderClient>();
  const withoutClient = new Map<string, TargetSkip>();
  const batchClients = new Map<string, ProviderBatchClient>();
  for (const provider of config.providers) {
    // An inactive provider is planned as skipped by the catalog itself (`planTargets`).
    if (!provider.is_active) continue;
    const missingKey = apiKeys.missing.get(provider.id);
    if (missingKey) {
      withoutClient.set(provider.id, { reason: "no_api_key", detail: missingKey });
      continue;
    }
    const fetch = createUndiciFetch(dispatcher, { idleMs: provider.config.idle_timeout_ms });
    const client = createProviderClient(provider, { apiKey: apiKeys.values.get(provider.id), fetch });
    if (client) {
      clients.set(provider.id, instrumentProviderClient(client, provider));
      const batchClient = createProviderBatchClient(provider, {
        apiKey: apiKeys.values.get(provider.id),
        fetch,
      });
      if (batchClient) batchClients.set(provider.id, batchClient);
      continue;
    }
    const detail = `this version has no wire for provider type '${provider.provider_type}'`;
    withoutClient.set(provider.id, { reason: "provider_unavailable", detail });
    logger.warn(
      { provider_id: provider.id, provider_type: provider.provider_type },
      `${detail}; provider unavailable`,
    );
  }
  return { clients, withoutClient, batchClients };
}

/**
 * Reads every provider's API key once. A missing key refuses start-up in production; in
 * development the provider is only marked unavailable, so a partial local setup still runs.
 */
function resolveProviderKeys(config: Config, env: NodeJS.ProcessEnv, logger: Logger) {
  const values = new Map<string, string>();
  /** Provider → what is missing, in words. */
  const missing = new Map<string, string>();
  const problems: ConfigProblem[] = [];
  config.providers.forEach((provider, index) => {
    // A provider this version cannot call needs no key (it is reported unavailable anyway).
    if (!hasWire(provider.provider_type) || !provider.api_key_ref) return;
    const key = resolveSecret(provider.api_key_ref, env);
    if (key !== undefined) {
      values.set(provider.id, key);
      return;
    }
    if (!provider.is_active) return;
    const message = `API key ${describeSecretRef(provider.api_key_ref)} of provider '${provider.id}' is not set`;
    missing.set(provider.id, message);
    if (config.environment === "production")
      problems.push({ field: `providers[${index}].api_key_ref`, message });
    else logger.warn({ provider_id: provider.id }, `${message}; provider unavailable`);
  });
  if (problems.length > 0) throw new ConfigError("secrets", problems);
  return { values, missing };
}
