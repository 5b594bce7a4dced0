import { ConfigError, parseConfig } from "./load-config.js";
import type { Config } from "./schema.js";

/**
 * The sections a running worker takes from the live configuration (KV) without a restart. The
 * rest (NATS, service, state buckets, callers, events, …) shapes connections, subscriptions and
 * permissions made once at start, and changes only with a restart.
 */
export const LIVE_SECTIONS = ["providers", "models", "fallback_chains"] as const;

export type LiveSections = Pick<Config, (typeof LIVE_SECTIONS)[number]>;

/** The live part of a validated configuration, as it is stored. */
export function liveSectionsOf(config: Config): LiveSections {
  return { providers: config.providers, models: config.models, fallback_chains: config.fallback_chains };
}

/**
 * The worker's own configuration with the stored live sections in place of its own, checked whole
 * again (schema, catalogue, POL-LLM-001/002/005, cross-references): a stored document this worker
 * cannot take (another version wrote it, or it does not fit this worker's environment) throws a
 * ConfigError and the worker keeps what it has.
 */
export function withLiveSections(base: Config, stored: unknown, source: string): Config {
  if (typeof stored !== "object" || stored === null || Array.isArray(stored))
    throw new ConfigError(source, [
      { field: "(root)", message: "the stored configuration is not an object" },
    ]);
  const unknown = Object.keys(stored).filter((key) => !(LIVE_SECTIONS as readonly string[]).includes(key));
  if (unknown.length > 0)
    throw new ConfigError(
      source,
      unknown.map((key) => ({ field: key, message: "not a live section (needs a restart, not an apply)" })),
    );
  return parseConfig({ ...base, ...stored }, source);
}
