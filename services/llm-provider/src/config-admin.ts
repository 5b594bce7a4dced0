// The live configuration's admin actions, for `llm-provider config …` and for the admin subjects the
// workers serve (`llm-provider.admin.…`): validate a document or an edit whole with the service's
// own rules, show what it changes, and write it to KV by compare-and-set. One implementation for
// both doors; the CLI's is otherwise a NATS client, so it loads this module only for `config`.
import type { NatsConnection } from "@nats-io/nats-core";
import { LlmProviderError, quoteValue } from "@llm-provider/contracts";
import type { ConfigAdminReply } from "@llm-provider/contracts";
import { parse as parseYaml } from "yaml";
import { diffLiveSections, formatConfigChanges } from "./config/config-diff.js";
import type { ConfigChange } from "./config/config-diff.js";
import { liveSectionsOf } from "./config/live-sections.js";
import type { LiveSections } from "./config/live-sections.js";
import { ConfigError, parseConfig, readConfigFile } from "./config/load-config.js";
import { catalogueSuppliedFields } from "./config/model-catalogue.js";
import { LiveConfigSchema } from "./config/schema.js";
import { ensureKvBucket } from "./infra/kv/ensure-kv-bucket.js";
import { createKvLiveConfigStore } from "./infra/kv/kv-live-config.js";
import type { LiveConfigStore, StoredConfig } from "./infra/kv/kv-live-config.js";
import type { LiveConfigAdmin } from "./ports/live-config-admin.js";

const DEFAULT_LIVE_CONFIG_BUCKET = LiveConfigSchema.parse({}).bucket;
const KV_TIMEOUT_MS = 5_000;
/** Problems listed in an admin reply's details: enough to fix a file, bounded whatever was sent. */
const MAX_PROBLEMS_IN_REPLY = 50;

export interface ConfigAdminOutcome {
  changes: ConfigChange[];
  /** The changes as `config diff` prints them (`no changes` when none). */
  summary: string;
  /** The revision written, or undefined when nothing was (a diff, or an edit that changes nothing). */
  revision?: number;
  /** The stored revision read first, or undefined when nothing was stored. */
  previous?: number;
}

export interface ConfigAdminResult {
  /** The changes, as lines to print (`no changes` when none). */
  changes: string;
  revision?: number;
  previous?: number;
}

/**
 * `config diff` (`write: false`) and `config apply`: `document` (a parsed file) is validated as a
 * worker validates its file at start (with nothing from the environment) and refused whole on any
 * problem; its live sections are written over `expectRevision`, or over the revision read now.
 */
export async function applyConfigDocument(
  store: LiveConfigStore,
  document: unknown,
  options: { source: string; write: boolean; expectRevision?: number | undefined },
): Promise<ConfigAdminOutcome> {
  const sections = liveSectionsOf(parseConfig(document, options.source));
  const stored = await store.read();
  const outcome = outcomeOf(stored, sections, catalogueSuppliedFields(document));
  if (!options.write) return outcome;
  return {
    ...outcome,
    revision: await store.write(sections, options.expectRevision ?? stored?.revision ?? 0),
  };
}

/** `config set-provider-active` / `set-model-available`: a CAS edit of the stored configuration, validated whole. */
export async function setStoredFlagIn(
  store: LiveConfigStore,
  bucket: string,
  options: { what: "provider" | "model"; id: string; on: boolean },
): Promise<ConfigAdminOutcome> {
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
  const outcome = outcomeOf(stored, sections, new Map());
  if (outcome.changes.length === 0) return outcome;
  return { ...outcome, revision: await store.write(sections, stored.revision) };
}

/** The CLI's `config apply|diff --file`: the file's bucket is created on a write (admin rights). */
export async function applyConfigFile(
  nc: NatsConnection,
  options: { file: string; write: boolean; bucket?: string | undefined; expectRevision?: number | undefined },
): Promise<ConfigAdminResult> {
  const document = readConfigFile(options.file);
  // Checked before the bucket is made: an invalid file changes nothing.
  const config = parseConfig(document, options.file);
  const bucket = options.bucket ?? config.live_config.bucket;
  if (options.write) await ensureKvBucket(nc, { bucket, replicas: config.live_config.replicas });
  const store = createKvLiveConfigStore(nc, { bucket, timeoutMs: KV_TIMEOUT_MS });
  return resultOf(
    await applyConfigDocument(store, document, {
      source: options.file,
      write: options.write,
      expectRevision: options.expectRevision,
    }),
  );
}

/** The CLI's `config set-provider-active` / `set-model-available`. */
export async function setStoredFlag(
  nc: NatsConnection,
  options: { what: "provider" | "model"; id: string; on: boolean; bucket?: string | undefined },
): Promise<ConfigAdminResult> {
  const bucket = options.bucket ?? DEFAULT_LIVE_CONFIG_BUCKET;
  const store = createKvLiveConfigStore(nc, { bucket, timeoutMs: KV_TIMEOUT_MS });
  return resultOf(await setStoredFlagIn(store, bucket, options));
}

/**
 * The admin subjects' actions over the worker's own live configuration store (never a bucket a
 * request names). The worker does not create the
 * bucket (it holds no JetStream administration rights): the first apply is the CLI's, or the
 * bootstrap's. A configuration that does not validate is an `invalid_request` naming its first
 * field, with every problem in `details.problems`.
 */
export function createLiveConfigAdmin(store: LiveConfigStore, bucket: string): LiveConfigAdmin {
  return {
    async apply(document, options) {
      const parsed = typeof document === "string" ? parseDocument(document) : document;
      return replyOf(
        await typedConfigErrors(() => applyConfigDocument(store, parsed, { source: "config", ...options })),
      );
    },
    async setFlag(options) {
      return replyOf(await typedConfigErrors(() => setStoredFlagIn(store, bucket, options)));
    },
  };
}

function parseDocument(text: string): unknown {
  try {
    // YAML is a superset of JSON: one parser for both.
    return parseYaml(text) as unknown;
  } catch (error) {
    throw new LlmProviderError(
      "invalid_request",
      `config is not YAML or JSON: ${error instanceof Error ? error.message.split("\n")[0] : "unreadable"}`,
      { field: "config" },
    );
  }
}

async function typedConfigErrors<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const problems = error.problems.slice(0, MAX_PROBLEMS_IN_REPLY);
    const first = problems[0];
    throw new LlmProviderError("invalid_request", error.message, {
      field: first ? `config.${first.field}` : "config",
      policy: first?.policy,
      details: {
        problems: problems.map((problem) => ({
          field: problem.field,
          message: problem.message,
          ...(problem.policy ? { policy: problem.policy } : {}),
        })),
        problem_count: error.problems.length,
      },
    });
  }
}

function outcomeOf(
  stored: StoredConfig | undefined,
  sections: LiveSections,
  fromCatalogue: ReadonlyMap<string, ReadonlySet<string>>,
): ConfigAdminOutcome {
  const changes = diffLiveSections(stored?.sections as LiveSections | undefined, sections, fromCatalogue);
  const summary = formatConfigChanges(changes);
  return stored ? { changes, summary, previous: stored.revision } : { changes, summary };
}

function replyOf(outcome: ConfigAdminOutcome): ConfigAdminReply {
  return {
    changes: outcome.changes,
    summary: outcome.summary,
    ...(outcome.revision !== undefined ? { revision: outcome.revision } : {}),
    ...(outcome.previous !== undefined ? { previous_revision: outcome.previous } : {}),
  };
}

function resultOf(outcome: ConfigAdminOutcome): ConfigAdminResult {
  return {
    changes: outcome.summary,
    ...(outcome.revision !== undefined ? { revision: outcome.revision } : {}),
    ...(outcome.previous !== undefined ? { previous: outcome.previous } : {}),
  };
}
