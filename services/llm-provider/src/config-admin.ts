// The live configuration's admin actions (`llm-provider config …`): validate a file or an edit whole
// with the service's own rules, show what it changes, and write it to KV by compare-and-set. The one
// door of the CLI (a NATS client otherwise) to the configuration and KV, used with admin credentials.
import type { NatsConnection } from "@nats-io/nats-core";
import { LlmProviderError, quoteValue } from "@llm-provider/contracts";
import { diffLiveSections, formatConfigChanges } from "./config/config-diff.js";
import { liveSectionsOf } from "./config/live-sections.js";
import type { LiveSections } from "./config/live-sections.js";
import { parseConfig, readConfigFile } from "./config/load-config.js";
import { LiveConfigSchema } from "./config/schema.js";
import { ensureKvBucket } from "./infra/kv/ensure-kv-bucket.js";
import { createKvLiveConfigStore } from "./infra/kv/kv-live-config.js";
import type { StoredConfig } from "./infra/kv/kv-live-config.js";

const DEFAULT_LIVE_CONFIG_BUCKET = LiveConfigSchema.parse({}).bucket;
const KV_TIMEOUT_MS = 5_000;

export interface ConfigAdminResult {
  /** The changes, as lines to print (`no changes` when none). */
  changes: string;
  /** The revision written, or undefined when nothing was (a diff, or an edit that changes nothing). */
  revision?: number;
  /** The stored revision read first, or undefined when nothing was stored. */
  previous?: number;
}

/**
 * `config diff` (`write: false`) and `config apply`: the file is validated as a worker validates
 * it at start (with nothing from this shell's environment) and refused whole on any problem; its
 * live sections are written over `expectRevision`, or over the revision read now.
 */
export async function applyConfigFile(
  nc: NatsConnection,
  options: { file: string; write: boolean; bucket?: string | undefined; expectRevision?: number | undefined },
): Promise<ConfigAdminResult> {
  const config = parseConfig(readConfigFile(options.file), options.file);
  const sections = liveSectionsOf(config);
  const bucket = options.bucket ?? config.live_config.bucket;
  if (options.write) await ensureKvBucket(nc, { bucket, replicas: config.live_config.replicas });
  const store = createKvLiveConfigStore(nc, { bucket, timeoutMs: KV_TIMEOUT_MS });
  const stored = await store.read();
  const result = resultOf(stored, sections);
  if (!options.write) return result;
  return {
    ...result,
    revision: await store.write(sections, options.expectRevision ?? stored?.revision ?? 0),
  };
}

/** `config set-provider-active` / `set-model-available`: a CAS edit of the stored configuration, validated whole. */
export async function setStoredFlag(
  nc: NatsConnection,
  options: { what: "provider" | "model"; id: string; on: boolean; bucket?: string | undefined },
): Promise<ConfigAdminResult> {
  const bucket = options.bucket ?? DEFAULT_LIVE_CONFIG_BUCKET;
  const store = createKvLiveConfigStore(nc, { bucket, timeoutMs: KV_TIMEOUT_MS });
  const stored = await store.read();
  if (!stored)
    throw new LlmProviderError("not_found", `nothing is stored in ${bucket}: run config apply first`, {
      field: "bucket",
    });
  const before = stored.sections as LiveSections;
  const sections = structuredClone(before);
  if (options.what === "provider") {
    const provider = sections.providers.find((entry) => entry.id === options.id);
    if (!provider)
      throw new LlmProviderError("unknown_provider", `provider ${quoteValue(options.id)} is not configured`, {
        field: "provider_id",
      });
    provider.is_active = options.on;
  } else {
    // Every deployment of the model; one deployment alone is taken out with its provider.
    const deployments = sections.models.filter((entry) => entry.model_name === options.id);
    if (deployments.length === 0)
      throw new LlmProviderError("unknown_model", `model ${quoteValue(options.id)} is not configured`, {
        field: "model",
      });
    for (const model of deployments) model.is_available = options.on;
  }
  // The edited sections must make a valid configuration on their own, as an applied file does.
  parseConfig({ ...sections }, `${bucket} revision ${stored.revision}, edited`);
  const result = resultOf(stored, sections);
  if (result.changes === formatConfigChanges([])) return result;
  return { ...result, revision: await store.write(sections, stored.revision) };
}

function resultOf(stored: StoredConfig | undefined, sections: LiveSections): ConfigAdminResult {
  const changes = formatConfigChanges(
    diffLiveSections(stored?.sections as LiveSections | undefined, sections),
  );
  return stored ? { changes, previous: stored.revision } : { changes };
}
